// siamese-enroll: builds and queries the face gallery the faceverify element matches against.
// Errors are caught once here: "siamese-enroll: error: ..." and exit 1; usage errors exit 2.
#include <exception>
#include <iostream>

#include "cli.h"
#include "commands.h"
#include "siamese/log.h"
#include "siamese/text_safety.h"

int main(int argc, char** argv) {
  siamese::set_log_sink([](siamese::LogLevel level, const std::string& message) {
    if (level > siamese::LogLevel::kWarning) return;
    std::cerr << "siamese-enroll: " << (level == siamese::LogLevel::kError ? "error: " : "warning: ")
              << siamese::escape_for_display(message) << "\n";
  });
  try {
    const auto args = siamese::enroll::Args::parse(argc, argv);
    if (args.help()) {
      std::cout << siamese::enroll::usage_text();
      return 0;
    }
    return siamese::enroll::run_command(args);
  } catch (const siamese::enroll::UsageError& e) {
    std::cerr << "siamese-enroll: " << siamese::escape_for_display(e.what())
              << "\n(siamese-enroll --help lists the commands)\n";
    return 2;
  } catch (const std::exception& e) {
    // Messages quote names and paths from files: one escaped line, whatever they hold.
    std::cerr << "siamese-enroll: error: " << siamese::escape_for_display(e.what()) << "\n";
    return 1;
  }
}
