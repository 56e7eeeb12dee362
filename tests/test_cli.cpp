// The command-line layer every program uses (siamese/cli.h, siamese/progress_bar.h): inclusive
// ranges, repeated and unknown flags, bad numbers, subcommands, run_main()'s exit statuses and
// messages, the "s1-s10" list grammar, the shared flags' ranges, the progress bar.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "siamese/cli.h"
#include "siamese/limits.h"
#include "siamese/progress_bar.h"

namespace cli = siamese::cli;

namespace {

const cli::Program& sample_program() {
  static const cli::Program program{
      "prog",
      "usage: prog --count N --ratio X [--name S] [--fast] [--mode a|b]\n",
      {{"",
        {cli::Flag::integer("count", 1, 10), cli::Flag::number("ratio", 0.25, 0.75),
         cli::Flag::text("name"), cli::Flag::on_off("fast"), cli::Flag::choice("mode", {"a", "b"})},
        0,
        0,
        ""}}};
  return program;
}

cli::Args parse(const cli::Program& program, std::vector<std::string> words) {
  words.insert(words.begin(), program.name);
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return cli::Args::parse(program, static_cast<int>(argv.size()), argv.data());
}

// The usage error's message for words, or "" when they parse.
std::string usage_error(const cli::Program& program, std::vector<std::string> words) {
  try {
    parse(program, std::move(words));
  } catch (const cli::UsageError& e) {
    return e.what();
  }
  return "";
}

struct Run {
  int status;
  std::string out, err;
};

Run run_main(std::vector<std::string> words, const std::function<int(const cli::Args&)>& body) {
  words.insert(words.begin(), "prog");
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  const int status =
      cli::run_main(sample_program(), static_cast<int>(argv.size()), argv.data(), body);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {status, out.str(), err.str()};
}

}  // namespace

TEST_CASE("flag ranges include both ends and name the flag and text outside them", "[core][cli]") {
  const auto& p = sample_program();
  CHECK(parse(p, {"--count", "1"}).integer("count", 5) == 1);
  CHECK(parse(p, {"--count=10"}).integer("count", 5) == 10);
  CHECK(parse(p, {}).integer("count", 5) == 5);
  CHECK(parse(p, {"--ratio", "0.25"}).number("ratio", 0.5) == 0.25);
  CHECK(parse(p, {"--ratio", "0.75"}).number("ratio", 0.5) == 0.75);
  CHECK_FALSE(parse(p, {}).number("ratio").has_value());
  CHECK(usage_error(p, {"--count", "0"}) == "--count: '0' is not an integer in [1, 10]");
  CHECK(usage_error(p, {"--count", "11"}) == "--count: '11' is not an integer in [1, 10]");
  CHECK(usage_error(p, {"--ratio", "0.2"}) == "--ratio: '0.2' is not a number in [0.25, 0.75]");
  CHECK(usage_error(p, {"--ratio", "0.8"}) == "--ratio: '0.8' is not a number in [0.25, 0.75]");
}

TEST_CASE("a bad number is a usage error naming the flag and the text", "[core][cli]") {
  const auto& p = sample_program();
  CHECK(usage_error(p, {"--count", "many"}) == "--count: 'many' is not an integer in [1, 10]");
  CHECK(usage_error(p, {"--count", "3x"}) == "--count: '3x' is not an integer in [1, 10]");
  CHECK(usage_error(p, {"--count="}) == "--count: '' is not an integer in [1, 10]");
  CHECK(usage_error(p, {"--count", "99999999999999999999"}).find("'99999999999999999999'") !=
        std::string::npos);
  CHECK(usage_error(p, {"--ratio", "nan"}) == "--ratio: 'nan' is not a number in [0.25, 0.75]");
  CHECK(usage_error(p, {"--ratio", "inf"}) == "--ratio: 'inf' is not a number in [0.25, 0.75]");
  CHECK(usage_error(p, {"--mode", "c"}) == "--mode: 'c' is not one of a, b");
}

TEST_CASE("a repeated flag is a usage error, whatever form it is given in", "[core][cli]") {
  const auto& p = sample_program();
  CHECK(usage_error(p, {"--name", "a", "--name", "b"}) == "--name is given twice");
  CHECK(usage_error(p, {"--name=a", "--name", "a"}) == "--name is given twice");
  CHECK(usage_error(p, {"--fast", "--fast"}) == "--fast is given twice");
}

TEST_CASE("an unknown flag or argument is a usage error naming it", "[core][cli]") {
  const auto& p = sample_program();
  CHECK(usage_error(p, {"--bogus"}) == "unknown flag --bogus");
  CHECK(usage_error(p, {"--bogus=1"}) == "unknown flag --bogus");
  CHECK(usage_error(p, {"-x"}) == "unknown flag '-x'");
  CHECK(usage_error(p, {"stray"}) == "unexpected argument 'stray' (flags start with --)");
  CHECK(usage_error(p, {"--fast=yes"}) == "--fast takes no value");
  CHECK(usage_error(p, {"--name"}) == "--name needs a value");
  // A value is taken as it is, dashes and all.
  CHECK(parse(p, {"--name", "--fast"}).text("name") == "--fast");
  CHECK_FALSE(parse(p, {"--name", "--fast"}).has("fast"));
}

TEST_CASE("missing and contradicting flags are usage errors naming them", "[core][cli]") {
  const auto& p = sample_program();
  CHECK_THROWS_WITH(parse(p, {}).required("name"), "--name is required");
  CHECK_THROWS_WITH(parse(p, {"--name="}).required("name"), "--name is required");
  CHECK_THROWS_WITH(parse(p, {"--fast", "--name=x"}).exclusive("fast", "name"),
                    "--fast and --name contradict each other");
  CHECK_NOTHROW(parse(p, {"--fast"}).exclusive("fast", "name"));
  // Reading a flag the program does not declare is a bug, not a silent default.
  CHECK_THROWS_AS(parse(p, {}).text("nmae"), std::logic_error);
  CHECK_THROWS_AS(parse(p, {}).integer("ratio", 1), std::logic_error);
}

TEST_CASE("subcommands have their own flags and positional counts", "[core][cli]") {
  const cli::Program p{
      "tool",
      "usage: tool add|remove ...\n",
      {{"add", {cli::Flag::on_off("json")}, 1, cli::kAnyNumber, "add [--json] DIR..."},
       {"remove", {cli::Flag::text("gallery")}, 1, 1, "remove --gallery DB NAME"}}};
  const cli::Args add = parse(p, {"add", "--json", "a", "--", "--b"});
  CHECK(add.command() == "add");
  CHECK(add.positionals() == std::vector<std::string>{"a", "--b"});
  // A negative number is an argument (for the command to check), not an unknown flag.
  CHECK(parse(p, {"add", "-1", "-0.5", ".5"}).positionals() ==
        std::vector<std::string>{"-1", "-0.5", ".5"});
  CHECK(usage_error(p, {"remove", "-x"}) == "remove: unknown flag '-x'");
  CHECK(usage_error(p, {"remove", "--json", "x"}) == "remove: unknown flag --json");
  CHECK(usage_error(p, {"remove", "a", "b"}) == "usage: tool remove --gallery DB NAME");
  CHECK(usage_error(p, {"list"}) == "unknown command 'list' (one of add, remove)");
  CHECK(usage_error(p, {}) == "missing command");
  CHECK(parse(p, {"help"}).help());
  CHECK(parse(p, {"remove", "--help"}).help());
  CHECK(p.all_flags().size() == 2);
}

TEST_CASE("run_main gives every program the same exit statuses and messages", "[core][cli]") {
  auto done = [](const cli::Args& args) { return static_cast<int>(args.integer("count", 0)); };
  Run r = run_main({"--count", "3"}, done);
  CHECK(r.status == 3);  // the body's own status
  CHECK(r.err.empty());
  r = run_main({}, done);
  CHECK(r.status == 0);

  r = run_main({"--count", "x"}, done);
  CHECK(r.status == 2);
  CHECK(r.err == "prog: error: --count: 'x' is not an integer in [1, 10]\nTry 'prog --help'.\n");
  r = run_main({}, [](const cli::Args&) -> int { throw cli::UsageError("--name is required"); });
  CHECK(r.status == 2);
  CHECK(r.err == "prog: error: --name is required\nTry 'prog --help'.\n");

  r = run_main({}, [](const cli::Args&) -> int { throw siamese::FileError("/x/m.pt", "missing"); });
  CHECK(r.status == 1);
  CHECK(r.err == "prog: error: /x/m.pt: missing\n");
  r = run_main({}, [](const cli::Args&) -> int { throw std::runtime_error("bad\nline"); });
  CHECK(r.status == 1);
  CHECK(r.err.find("bad\nline") == std::string::npos);  // one escaped line

  bool ran = false;
  r = run_main({"--help"}, [&](const cli::Args&) {
    ran = true;
    return 0;
  });
  CHECK(r.status == 0);
  CHECK_FALSE(ran);
  CHECK(r.out == sample_program().usage);
  r = run_main({"--list-flags"}, done);
  CHECK(r.status == 0);
  CHECK(r.out == "--count\n--ratio\n--name\n--fast\n--mode\n");
}

TEST_CASE("name lists expand ranges the same way for every program", "[core][cli]") {
  using V = std::vector<std::string>;
  CHECK(cli::expand_list("s1-s3", "--people") == V{"s1", "s2", "s3"});
  CHECK(cli::expand_list("s1,s3, s7-s9", "--people") == V{"s1", "s3", "s7", "s8", "s9"});
  CHECK(cli::expand_list("6-8", "--images") == V{"6", "7", "8"});
  CHECK(cli::expand_list("s9-11", "--people") == V{"s9", "s10", "s11"});
  CHECK(cli::expand_list("s1 - s2", "--people") == V{"s1", "s2"});
  CHECK(cli::expand_list("bob-smith,Colin_Powell", "--people") == V{"bob-smith", "Colin_Powell"});
  // A name that exists as it is wins over a range reading.
  CHECK(cli::expand_list("jean-2", "--people",
                         [](const std::string& n) { return n == "jean-2"; }) == V{"jean-2"});
  CHECK_THROWS_WITH(cli::expand_list("s3-s1", "--people"),
                    "--people: 's3-s1' is not a range like s1-s10 or 6-10");
  CHECK_THROWS_WITH(cli::expand_list("s1-t3", "--people"),
                    "--people: 's1-t3' is not a range like s1-s10 or 6-10");
  CHECK_THROWS_WITH(cli::expand_list(" , ", "--people"), "--people: the list ' , ' is empty");
  CHECK_THROWS_AS(cli::expand_list("s1-s999999999", "--people"), cli::UsageError);
  // A usage error is an InputError: library code reading a list reports it like other input.
  CHECK_THROWS_AS(cli::expand_list("", "--people"), siamese::InputError);
}

TEST_CASE("number lists such as --batches are checked item by item", "[core][cli]") {
  CHECK(cli::parse_integer_list("--batches", "1,8,32", 1, 64) == std::vector<long>{1, 8, 32});
  CHECK(cli::parse_integer_list("--threads", "1-3", 1, 4) == std::vector<long>{1, 2, 3});
  CHECK_THROWS_WITH(cli::parse_integer_list("--batches", "1,x", 1, 64),
                    Catch::Contains("--batches") && Catch::Contains("'x'"));
  CHECK_THROWS_WITH(cli::parse_integer_list("--batches", "8,65", 1, 64), Catch::Contains("'65'"));
  CHECK_THROWS_AS(cli::parse_integer_list("--batches", "", 1, 64), cli::UsageError);
  const cli::Program p{"bench", "usage", {{"", {cli::Flag::text("batches")}, 0, 0, ""}}};
  CHECK(parse(p, {"--batches", "4,16"}).integer_list("batches", "1", 1, 64) ==
        std::vector<int>{4, 16});
  CHECK(parse(p, {}).integer_list("batches", "1,8", 1, 64) == std::vector<int>{1, 8});
  CHECK_THROWS_AS(parse(p, {"--batches", "0"}).integer_list("batches", "1", 1, 64),
                  cli::UsageError);
}

TEST_CASE("shared flags take the element's ranges from the core", "[core][cli]") {
  CHECK(cli::flags::threads().min == 0);
  CHECK(cli::flags::threads().max == siamese::kMaxThreads);
  CHECK(cli::flags::batch_size().min == 1);
  CHECK(cli::flags::batch_size().max == siamese::kMaxBatchSize);
  CHECK(cli::flags::min_face_size().min == siamese::kMinMinFaceSize);
  CHECK(cli::flags::min_face_size().max == siamese::kMaxMinFaceSize);
  CHECK(cli::flags::detector_threshold().min == siamese::kMinDetectorThreshold);
  CHECK(cli::flags::detector_threshold().max == siamese::kMaxDetectorThreshold);
  CHECK(cli::flags::detector_input_size().min == siamese::kMinDetectorInputSize);
  CHECK(cli::flags::detector_input_size().max == siamese::kMaxDetectorInputSize);
  CHECK(cli::flags::threshold().max == siamese::kMaxDistanceThreshold);
  const cli::Program p{"p", "", {{"", cli::flags::embedder(), 0, 0, ""}}};
  CHECK(usage_error(p, {"--threads", std::to_string(siamese::kMaxThreads + 1)}) ==
        "--threads: '257' is not an integer in [0, 256]");
  CHECK(
      parse(p, {"--batch-size", std::to_string(siamese::kMaxBatchSize)}).integer("batch-size", 1) ==
      siamese::kMaxBatchSize);
}

TEST_CASE("the progress bar draws counts, note and rate, and clears itself", "[core][cli]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    cli::ProgressBar bar(f, true);
    CHECK(bar.visible());
    bar.start("epoch 1/2", 10, "pairs");
    bar.update(3, "loss 0.5000");
    bar.advance(7);  // the last step is always drawn
  }                  // the destructor clears the line
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  std::fclose(f);
  CHECK(text.find("epoch 1/2 [#########.....................] 3/10 pairs  loss 0.5000") !=
        std::string::npos);
  CHECK(text.find("[##############################] 10/10 pairs") != std::string::npos);
  CHECK(text.substr(text.size() - 4) == "\r\033[K");
  // Not a terminal and not forced: nothing is drawn.
  std::FILE* g = std::tmpfile();
  cli::ProgressBar quiet(g);
  CHECK_FALSE(quiet.visible());
  quiet.start("x", 2, "images");
  quiet.advance(2);
  quiet.finish();
  CHECK(std::ftell(g) == 0);
  std::fclose(g);
}
