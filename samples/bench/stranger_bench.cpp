// stranger_bench: how many strangers the default threshold lets in, by gallery size. Enrolls N
// people (their first K images, through the same detector and preprocessing as siamese-enroll),
// then presents every other image of theirs (genuine probes) and images of people who are not
// enrolled (strangers), and counts per face image: genuine verified as themselves, genuine
// verified as someone else, strangers verified as anyone. Thresholds: the default sized to the
// gallery (threshold_policy.h), the model's 1e-4 point ("strict") and its pair threshold.
// Usage: stranger_bench --model M --data DIR [--people 10,100,1000] [--enroll K]
//                       [--strangers S] [--stranger-images J] [--first-person N]
//                       [--no-detect] [--device D]
// Enrolled people are taken in folder order from the people with at least K+1 images (from
// --first-person on); strangers are the first J images of every person not enrolled, in
// order, up to S images.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "face_source.h"
#include "image_set.h"
#include "siamese/cli.h"
#include "siamese/device.h"
#include "siamese/embedder.h"
#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/matcher.h"
#include "siamese/model_file.h"
#include "siamese/threshold_policy.h"

namespace {

namespace fs = std::filesystem;
namespace cli = siamese::cli;

struct Person {
  std::string name;
  std::vector<std::string> images;  // naturally ordered
};

std::vector<Person> people_of(const std::string& data) {
  const siamese::enroll::EnrollmentPlan plan = siamese::enroll::plan_enrollment({data}, {});
  std::vector<Person> people;
  for (const auto& image : plan.images) {
    if (people.empty() || people.back().name != image.identity)
      people.push_back({image.identity, {}});
    people.back().images.push_back(image.path);
  }
  return people;
}

/// Embeds images one by one (largest face); rows of images without a face are absent.
class FaceEmbedder {
 public:
  FaceEmbedder(siamese::Embedder& embedder, siamese::enroll::FaceSource& source)
      : embedder_(embedder), source_(source) {}
  std::optional<torch::Tensor> embed(const std::string& path) {
    const auto cached = cache_.find(path);
    if (cached != cache_.end()) return cached->second;
    std::optional<torch::Tensor> row;
    try {
      const siamese::enroll::ImageFaces faces = source_.read(path);
      if (!faces.boxes.empty()) {
        const siamese::ImageView view = siamese::view_of(faces.image);
        row = embedder_.embed_faces(view, {faces.boxes.front()}, faces.framing)[0];
      }
    } catch (const siamese::Error& e) {
      std::cerr << "stranger_bench: skipping " << path << ": " << e.what() << "\n";
    }
    if (!row) ++no_face_;
    cache_[path] = row;
    return row;
  }
  int no_face() const { return no_face_; }

 private:
  siamese::Embedder& embedder_;
  siamese::enroll::FaceSource& source_;
  std::map<std::string, std::optional<torch::Tensor>> cache_;
  int no_face_ = 0;
};

struct Counts {
  int genuine = 0, genuine_ok = 0, genuine_wrong = 0, strangers = 0, strangers_in = 0;
};

Counts count_at(const siamese::Matcher& matcher, const torch::Tensor& probes,
                const std::vector<int>& probe_owner, const torch::Tensor& strangers, float t) {
  Counts c;
  if (probes.size(0) > 0) {
    const auto m = matcher.match(probes);
    for (size_t i = 0; i < m.size(); ++i) {
      ++c.genuine;
      if (m[i].distance > t) continue;
      if (m[i].identity == probe_owner[i])
        ++c.genuine_ok;
      else
        ++c.genuine_wrong;
    }
  }
  if (strangers.size(0) > 0) {
    for (const auto& s : matcher.match(strangers)) {
      ++c.strangers;
      if (s.distance <= t) ++c.strangers_in;
    }
  }
  return c;
}

std::string percent(int n, int of) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d/%d (%.1f%%)", n, of, of ? 100.0 * n / of : 0.0);
  return buf;
}

const cli::Program kProgramSpec{
    "stranger_bench",
    R"(usage: stranger_bench --model M --data DIR [options]

How many strangers the default threshold lets in, by gallery size: enrolls N people (their
first K images, as siamese-enroll does), presents their other images (genuine probes) and
images of people not enrolled (strangers), and counts what each threshold verifies.

  --model M              the model file
  --data DIR             identity folders (e.g. LFW)
  --people LIST          gallery sizes, e.g. 10,100,1000 (default 10)
  --enroll K             images enrolled per person (default 5)
  --strangers S          stranger images at most (default 1000)
  --stranger-images J    images per stranger (default 1)
  --first-person N       skip the first N eligible people (default 0)
  --no-detect            the images are already face crops
  --device D             auto, cpu (default), cuda, cuda:N
)",
    {{"",
      {cli::flags::model(), cli::Flag::text("data"), cli::Flag::text("people"),
       cli::Flag::integer("enroll", 1, 1000), cli::Flag::integer("strangers", 1, 1000000),
       cli::Flag::integer("first-person", 0, 1000000),
       cli::Flag::integer("stranger-images", 1, 1000), cli::flags::device(),
       cli::Flag::on_off("no-detect")},
      0,
      0,
      ""}}};

int run(const cli::Args& flags) {
  const std::string model_path = flags.required("model");
  const std::string data = flags.required("data");
  const int k = static_cast<int>(flags.integer("enroll", 5));
  const int max_strangers = static_cast<int>(flags.integer("strangers", 1000));
  const int first = static_cast<int>(flags.integer("first-person", 0));
  const auto stranger_images = static_cast<size_t>(flags.integer("stranger-images", 1));
  std::vector<int> sizes;
  for (const auto& item : cli::expand_list(flags.text("people", "10"), "--people")) {
    sizes.push_back(static_cast<int>(cli::parse_integer("--people", item, 1, 1000000)));
  }

  siamese::LoadedModel loaded = siamese::load_model(model_path);
  const siamese::ModelInfo info = loaded.info;
  siamese::Embedder embedder(std::move(loaded),
                             siamese::resolve_device(flags.text("device", "cpu")));
  siamese::enroll::FaceSourceOptions source_options;
  source_options.detect = !flags.has("no-detect");
  siamese::enroll::FaceSource source(source_options, info.input.channels);
  FaceEmbedder faces(embedder, source);

  const std::vector<Person> people = people_of(data);
  std::vector<const Person*> candidates;  // enough images to enroll K and probe one
  for (size_t i = static_cast<size_t>(first); i < people.size(); ++i) {
    if (static_cast<int>(people[i].images.size()) > k) candidates.push_back(&people[i]);
  }
  std::printf("model %s (%s), data %s: %zu people, %zu with more than %d images\n",
              model_path.c_str(), info.fingerprint.c_str(), data.c_str(), people.size(),
              candidates.size(), k);
  std::printf(
      "| people | embeddings | threshold | value | genuine verified | genuine as someone "
      "else | strangers accepted |\n|---|---|---|---|---|---|---|\n");
  for (const int n : sizes) {
    if (n > static_cast<int>(candidates.size())) {
      std::printf("| %d | (not enough people with %d+ images) | | | | | |\n", n, k + 1);
      continue;
    }
    siamese::GalleryMatrix gallery;
    std::vector<torch::Tensor> rows, probes, strangers;
    std::vector<int64_t> owners;
    std::vector<int> probe_owner;
    std::map<std::string, bool> enrolled;
    for (int p = 0; p < n; ++p) {
      const Person& person = *candidates[static_cast<size_t>(p)];
      enrolled[person.name] = true;
      const int id = static_cast<int>(gallery.names.size());
      gallery.names.push_back(person.name);
      for (size_t i = 0; i < person.images.size(); ++i) {
        const auto row = faces.embed(person.images[i]);
        if (!row) continue;
        if (static_cast<int>(i) < k) {
          rows.push_back(*row);
          owners.push_back(id);
        } else {
          probes.push_back(*row);
          probe_owner.push_back(id);
        }
      }
    }
    for (const Person& person : people) {
      if (enrolled.count(person.name)) continue;
      const size_t shown = std::min<size_t>(person.images.size(), stranger_images);
      for (size_t i = 0; i < shown && static_cast<int>(strangers.size()) < max_strangers; ++i) {
        if (const auto row = faces.embed(person.images[i])) strangers.push_back(*row);
      }
    }
    gallery.embeddings = torch::stack(rows);
    gallery.owners = torch::tensor(owners, torch::kInt64);
    const int64_t embeddings = gallery.size();
    const siamese::Matcher matcher(std::move(gallery), embedder.device(), 0.0f);
    const torch::Tensor probe_matrix = probes.empty() ? torch::empty({0}) : torch::stack(probes);
    const torch::Tensor stranger_matrix =
        strangers.empty() ? torch::empty({0}) : torch::stack(strangers);

    std::vector<std::pair<std::string, float>> thresholds;
    thresholds.emplace_back("default (sized)",
                            siamese::gallery_size_threshold(info, embeddings).value);
    try {
      thresholds.emplace_back("strict (1e-4)", siamese::strict_threshold(info).value);
    } catch (const siamese::InputError&) {
    }
    thresholds.emplace_back("pair", info.threshold);
    for (const auto& [label, t] : thresholds) {
      const Counts c = count_at(matcher, probe_matrix, probe_owner, stranger_matrix, t);
      std::printf("| %d | %lld | %s | %.4f | %s | %s | %s |\n", n,
                  static_cast<long long>(embeddings), label.c_str(), static_cast<double>(t),
                  percent(c.genuine_ok, c.genuine).c_str(),
                  percent(c.genuine_wrong, c.genuine).c_str(),
                  percent(c.strangers_in, c.strangers).c_str());
    }
    std::fflush(stdout);
  }
  std::printf("images without a face found: %d\n", faces.no_face());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run_main(kProgramSpec, argc, argv, run); }
