// Files written whole or not at all, without following what someone else planted: the bytes go
// to a fresh temporary file beside the target (mkstemp: an unpredictable name, created
// exclusively, so an existing file or symbolic link of that name is never written through),
// which replaces the target by rename() once complete. Thread-safety: one AtomicFile per thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace siamese {

class AtomicFile {
 public:
  /// Creates the temporary file "<path>.tmp.XXXXXX" with mode (less the umask).
  /// Throws FileError naming path when it cannot.
  explicit AtomicFile(std::string path, mode_t mode = 0666);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends n bytes; throws FileError naming path on a write error (e.g. a full disk).
  void write(const void* data, size_t n);
  /// Flushes the data to disk and renames the temporary file over path (a symbolic link at
  /// path is replaced, not followed). Throws FileError naming path.
  void commit();

  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace siamese
