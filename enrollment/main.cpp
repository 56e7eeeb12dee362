// siamese-enroll: builds and queries the face gallery the faceverify element matches against.
// Errors are caught once here: "siamese-enroll: error: ..." and exit 1; usage errors exit 2.
#include <exception>
#include <iostream>

#include "commands.h"
#include "siamese/log.h"
#include "siamese/text_safety.h"

int main(int argc, char** argv) {
  siamese::set_log_sink([](siamese::LogLevel level, const std::string& message) {
    if (level > siamese::LogLevel::kWarning) return;
    std::cerr << "siamese-enroll: "
              << (level == siamese::LogLevel::kError ? "error: " : "warning: ")
              << siamese::escape_for_display(message) << "\n";
  });
  return siamese::cli::run_main(siamese::enroll::enroll_program(), argc, argv,
                                siamese::enroll::run_command);
}
