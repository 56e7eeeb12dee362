// Typed exceptions of the core. Every message carries the context a user needs to act:
// the file, the property or flag, expected vs actual shape, the device.
// Thread-safety: plain value types.
#pragma once

#include <stdexcept>
#include <string>

namespace siamese {

/// Base of every error the core throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A file is missing, unreadable, truncated or of the wrong kind; path() names it.
class FileError : public Error {
 public:
  FileError(std::string path, const std::string& reason)
      : Error(path + ": " + reason), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Input of the wrong shape, size or format (an image, a box, a tensor, an option value).
class InputError : public Error {
 public:
  using Error::Error;
};

/// A device that was asked for cannot be used (e.g. "cuda" without a GPU).
class DeviceError : public Error {
 public:
  using Error::Error;
};

/// A gallery that cannot be used with this model (other fingerprint, embedding size).
class MismatchError : public Error {
 public:
  using Error::Error;
};

}  // namespace siamese
