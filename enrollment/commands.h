// The subcommands of siamese-enroll and what they share: loading the model onto a device,
// the face source from the detector flags, the threshold in force. Each returns the exit
// status; errors are thrown to main(). Thread-safety: run from the main thread.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

#include "face_source.h"
#include "siamese/cli_core_flags.h"
#include "siamese/embedder.h"
#include "siamese/gallery.h"
#include "siamese/threshold_policy.h"

namespace siamese::enroll {

using cli::Args;
using cli::UsageError;

/// siamese-enroll's command line: its subcommands, their flags and the --help text.
const cli::Program& enroll_program();

/// Exit status of `verify` when the face is not the claimed identity.
constexpr int kExitNotVerified = 3;
/// Default of identify --top.
constexpr int kDefaultTop = 3;

/// j as one line of JSON. Invalid UTF-8 (names in a gallery someone else wrote, file names) is
/// replaced by U+FFFD: the output stays valid JSON and never fails after the work is done.
std::string json_line(const nlohmann::json& j);

/// Runs args.command(); returns the exit status.
int run_command(const Args& args);

int run_add(const Args& args);
int run_list(const Args& args);
/// bind --model M --gallery G: records M's preprocessing facts in a gallery written before
/// galleries recorded them (the operator's word that M embedded its rows).
int run_bind(const Args& args);
int run_remove(const Args& args);
int run_rename(const Args& args);
/// migrate --from A --to B [--replace]: copies a gallery between SQLite and PostgreSQL.
int run_migrate(const Args& args);
int run_identify(const Args& args);
int run_verify(const Args& args);
int run_compare(const Args& args);
int run_threshold(const Args& args);
int run_calibrate(const Args& args);

/// --threshold as given (in [0, kMaxDistanceThreshold]), or nullopt.
std::optional<float> threshold_flag(const Args& args);

/// Loads --model onto --device (default auto) with --batch-size and --threads.
Embedder load_embedder(const Args& args);
/// The face source of --no-detect, --detector, --detector-file, --min-face-size.
FaceSource make_face_source(const Args& args, int channels);

/// Opens --gallery bound to the loaded model; a MismatchError also names the --model file.
Gallery open_gallery(const Args& args, const Embedder& embedder, bool create);

/// The threshold the element uses for this gallery when its threshold property is unset.
ThresholdChoice threshold_in_force(const Gallery& gallery, const ModelInfo& model);

/// The threshold in force (choose_threshold): --threshold, else the gallery's stored one, else
/// the default for a gallery of gallery_embeddings; warns on stderr when uncalibrated.
ThresholdChoice pick_threshold(const Args& args, std::optional<float> gallery_threshold,
                               const ModelInfo& model, int64_t gallery_embeddings);

}  // namespace siamese::enroll
