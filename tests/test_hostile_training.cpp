// siamese-train against hostile file systems (issue 11): a temporary file name planted as a
// symbolic link (out.pt.tmp, out.pt.ckpt.tmp) is never written through, and a --data path that
// is not UTF-8 no longer fails the run at the end, when the model's facts are written.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "checkpoint.h"
#include "siamese/model_file.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

// argv run without a shell (the data path holds a byte a shell line would have to quote).
int run_train(const std::vector<std::string>& args, std::string& output) {
  const std::string log = siamese::testing::temp_dir("hostile-train-log") + "/out.txt";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!std::freopen(log.c_str(), "w", stdout) || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
    std::vector<std::string> argv_s = {SIAMESE_TRAIN_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  output = siamese::testing::read_file(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE(
    "siamese-train with a non-UTF-8 --data path and planted .tmp links writes its model "
    "and leaves the links' targets alone",
    "[training][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-train");
  const std::string data = dir + "/caf\xe9-faces";  // a Latin-1 folder name
  for (int id = 1; id <= 6; ++id) {
    const fs::path folder = fs::path(data) / ("p" + std::to_string(id));
    fs::create_directories(folder);
    for (int k = 1; k <= 4; ++k) {
      REQUIRE(cv::imwrite((folder / (std::to_string(k) + ".png")).string(),
                          siamese::testing::synthetic_gray(48, 56, id * 10 + k)));
    }
  }
  const std::string out = dir + "/out.pt", model_target = dir + "/precious-model.txt",
                    ckpt_target = dir + "/precious-ckpt.txt";
  std::ofstream(model_target) << "precious";
  std::ofstream(ckpt_target) << "precious";
  fs::create_symlink(model_target, out + ".tmp");
  fs::create_symlink(ckpt_target, out + ".ckpt.tmp");
  std::string output;
  const int rc = run_train({"--data", data, "--out", out, "--device", "cpu", "--epochs", "1",
                            "--batch-size", "8", "--threads", "1"},
                           output);
  INFO(output);
  REQUIRE(rc == 0);
  CHECK(siamese::testing::read_file(model_target) == "precious");
  CHECK(siamese::testing::read_file(ckpt_target) == "precious");
  CHECK(fs::is_symlink(out + ".tmp"));
  CHECK(fs::is_symlink(out + ".ckpt.tmp"));
  const siamese::LoadedModel model = siamese::load_model(out);
  CHECK_THAT(model.info.origin, Catch::Contains("caf\xef\xbf\xbd-faces"));  // U+FFFD
}

TEST_CASE("a checkpoint is never written through a planted temporary-file link",
          "[training][hostile]") {
  const std::string dir = siamese::testing::temp_dir("hostile-ckpt");
  const std::string path = dir + "/run.ckpt", target = dir + "/precious.txt";
  std::ofstream(target) << "precious";
  fs::create_symlink(target, path + ".tmp");
  siamese::Network net = siamese::Network::create(siamese::ArchOptions());
  torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(1e-3));
  siamese::training::CheckpointState state;
  state.spec = siamese::default_input_spec(state.arch);
  state.loss = "contrastive";
  state.epoch = 3;
  siamese::training::save_checkpoint(path, net, adam, state);
  CHECK(siamese::testing::read_file(target) == "precious");
  CHECK(fs::is_symlink(path + ".tmp"));
  CHECK(siamese::training::read_checkpoint_state(path).epoch == 3);
}
