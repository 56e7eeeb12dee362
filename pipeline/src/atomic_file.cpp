#include "siamese/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "siamese/errors.h"

namespace siamese {
namespace {

// The process's umask without changing it (umask() sets it, a race with other threads):
// Linux reports it in /proc/self/status; 022 where that line is missing.
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Umask:", 0) == 0) {
      return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8) & 0777);
    }
  }
  return 022;
}

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

AtomicFile::AtomicFile(std::string path, mode_t mode) : path_(std::move(path)) {
  std::vector<char> name(path_.begin(), path_.end());
  const std::string suffix = ".tmp.XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0)
    throw FileError(path_, "cannot create a temporary file beside it: " + errno_text(errno));
  temp_ = name.data();
  if (::fchmod(fd_, mode & ~current_umask()) != 0) {
    const int error = errno;
    ::close(fd_);
    ::unlink(temp_.c_str());
    fd_ = -1;
    throw FileError(path_, "cannot set the mode of " + temp_ + ": " + errno_text(error));
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) throw FileError(path_, "write after commit");
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t done = ::write(fd_, p, n);
    if (done < 0) {
      if (errno == EINTR) continue;
      throw FileError(path_, "cannot write " + temp_ + ": " + errno_text(errno));
    }
    p += done;
    n -= static_cast<size_t>(done);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw FileError(path_, "committed twice");
  if (::fsync(fd_) != 0) throw FileError(path_, "cannot flush " + temp_ + ": " + errno_text(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw FileError(path_, "cannot close " + temp_ + ": " + errno_text(errno));
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    throw FileError(path_, "cannot replace it with " + temp_ + ": " + errno_text(errno));
  }
  committed_ = true;
}

}  // namespace siamese
