// The command-line flags of siamese-access-control's event sinks (--mqtt ..., --ha-discovery,
// --webhook ...): their declarations and the EventSinkOptions they give.
// Secrets are read from files named by flags, never taken from the command line.
// Thread-safety: pure functions.
#pragma once

#include <vector>

#include "event_sinks.h"
#include "siamese/cli.h"

namespace siamese::samples {

/// The flags, for the program's declaration.
std::vector<cli::Flag> event_flag_declarations();

/// The sinks a parsed command line asks for; reads --mqtt-password-file and
/// --webhook-secret-file. Throws cli::UsageError naming the flag that is wrong.
EventSinkOptions event_sink_options_of(const cli::Args& flags);

}  // namespace siamese::samples
