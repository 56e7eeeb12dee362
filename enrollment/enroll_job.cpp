#include "enroll_job.h"

#include <sys/stat.h>

#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <map>

#include "siamese/errors.h"
#include "siamese/image_io.h"
#include "siamese/progress_bar.h"
#include "siamese/text_safety.h"

namespace siamese::enroll {
namespace {

namespace fs = std::filesystem;

// Crops are face images: their folders are private to the owner, like the gallery file. A
// symbolic link planted where the folder goes is refused (chmod would follow it).
void make_private_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir.string(), "cannot create crops folder: " + ec.message());
  if (!fs::is_directory(fs::symlink_status(dir, ec))) {
    throw FileError(dir.string(), "crops folder is not a folder (a symbolic link?)");
  }
  ::chmod(dir.c_str(), 0700);
}

void write_crop(const std::string& root, const EmbedRequest& request, const torch::Tensor& input,
                const InputSpec& spec) {
  // Names come from folders and, with --rebuild, from the gallery file: each becomes ONE path
  // component inside root ("../x", "/abs" and "a/b" included).
  const fs::path dir = fs::path(root) / safe_path_component(request.identity);
  make_private_dirs(dir);
  const fs::path file =
      dir / (safe_path_component(fs::path(request.path).filename().string()) + ".png");
  bool ok = false;
  try {
    ok = cv::imwrite(file.string(), input_to_image(input, spec));
  } catch (const cv::Exception& e) {
    ok = false;
  }
  if (!ok) throw FileError(file.string(), "cannot write crop");
}

}  // namespace

std::string reason_of(const std::exception& e, const std::string& path) {
  const std::string what = e.what();
  const std::string prefix = path + ": ";
  return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
}

EmbedOutcome embed_requests(const std::vector<EmbedRequest>& requests, FaceSource& source,
                            Embedder& embedder, const EmbedOptions& options) {
  EmbedOutcome outcome;
  const InputSpec& spec = embedder.input_spec();
  const int64_t capacity = embedder.batch_size();
  torch::Tensor batch = make_batch_tensor(capacity, spec);
  std::map<std::string, size_t> slot_of_identity;
  std::vector<std::pair<std::string, EnrollmentSample>> pending;  // identity, sample sans vector

  const auto flush = [&] {
    if (pending.empty()) return;
    const auto n = static_cast<int64_t>(pending.size());
    const torch::Tensor emb = embedder.embed(batch.narrow(0, 0, n)).contiguous();
    const int64_t e = emb.size(1);
    const float* data = emb.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      auto& [identity, sample] = pending[static_cast<size_t>(i)];
      sample.embedding.assign(data + i * e, data + (i + 1) * e);
      auto [it, added] = slot_of_identity.emplace(identity, outcome.identities.size());
      if (added) outcome.identities.push_back({identity, {}});
      outcome.identities[it->second].second.push_back(std::move(sample));
    }
    outcome.embedded += n;
    pending.clear();
  };

  cli::ProgressBar progress;
  progress.start("", static_cast<int64_t>(requests.size()), options.progress_label);
  for (const auto& request : requests) {
    try {
      const ImageFaces faces = request.box
                                   ? source.read_region(request.path, *request.box, request.framing)
                                   : source.read(request.path);
      std::string reason;
      const std::optional<Box> box = single_face(faces, options.largest_face, reason);
      if (!box) {
        outcome.skipped.push_back({request.path, reason});
      } else {
        const auto slot = static_cast<int64_t>(pending.size());
        const ImageView view = view_of(faces.image);
        preprocess_into(view, {*box}, spec, faces.framing, batch, slot,
                        embedder.face_landmarks(view, {*box}, faces.framing));
        if (!options.keep_crops_dir.empty()) {
          write_crop(options.keep_crops_dir, request, batch[slot], spec);
        }
        EnrollmentSample sample;
        sample.source_file = request.path;
        // The whole image of a pre-cropped face is recorded as 0x0: "all of it", whatever its size.
        const bool whole =
            faces.framing == Framing::kExact && *box == view_of(faces.image).full_box();
        sample.box = whole ? Box{} : faces.recorded(*box);
        sample.framing = faces.framing;
        pending.emplace_back(request.identity, std::move(sample));
        if (static_cast<int64_t>(pending.size()) == capacity) flush();
      }
    } catch (const FileError& e) {
      if (e.path() != request.path) throw;  // a crop that cannot be written: stop
      outcome.failed.push_back({request.path, reason_of(e, request.path)});
    } catch (const InputError& e) {
      outcome.failed.push_back({request.path, reason_of(e, request.path)});
    } catch (const cv::Exception& e) {
      outcome.failed.push_back({request.path, std::string("OpenCV: ") + e.what()});
    }
    progress.advance();
  }
  flush();
  progress.finish();
  return outcome;
}

}  // namespace siamese::enroll
