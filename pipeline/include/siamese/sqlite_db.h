// The project's one SQLite layer, shared by the gallery and the access-control audit log:
// connections opened with a busy timeout, prepared statements, transactions, WAL, files created
// private (0600), and ISO 8601 UTC time stamps. Every failure is a FileError naming the file and
// saying what kind of file it is ("gallery", "audit log"). Needs SQLite only: no LibTorch.
// Thread-safety: a connection and its statements belong to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace siamese::sql {

/// One database file: the path errors name, what the user knows it as ("gallery"), and how
/// long a connection waits for another process's lock before it fails.
struct FileRef {
  std::string path;
  std::string kind;
  int busy_timeout_ms = 5000;
};

/// Closes a connection (sqlite3_close_v2: statements still open keep it alive until finalised).
struct Closer {
  void operator()(sqlite3* db) const;
};
using Connection = std::unique_ptr<sqlite3, Closer>;

/// "what: SQLite's message", with a hint for a busy file (another process held it longer than
/// the busy timeout) and "not a KIND" for a file that is not a database.
std::string describe_error(sqlite3* db, const FileRef& file, const std::string& what);

/// Opens name (a path, or a file: URI with SQLITE_OPEN_URI) with flags and the busy timeout;
/// extended result codes on. Throws FileError "cannot open KIND: ...".
Connection open_connection(const std::string& name, int flags, const FileRef& file);

/// Runs sql (no result rows); throws FileError naming the file and the statement.
void exec(sqlite3* db, const FileRef& file, const char* sql);

/// Switches the file to WAL. The mode is stored in the file, so only the first opener changes
/// it; SQLite answers a mode change that meets another connection with SQLITE_BUSY at once,
/// without the busy handler, so this retries up to the file's busy timeout.
void enable_wal(sqlite3* db, const FileRef& file);

/// How create_private_file treats a path that is a symbolic link.
enum class Links { kFollow, kRefuse };

/// Creates path readable by its owner only (0600) before SQLite writes to it (its -wal and -shm
/// files copy the mode); an existing regular file is left as it is. With Links::kRefuse a
/// symbolic link at path or where SQLite's -wal, -shm or -journal go is refused (a planted link
/// would make us write where it points), as is anything but a regular file (FIFOs: opened
/// without blocking, then refused). Throws FileError.
void create_private_file(const FileRef& file, Links links);

/// A prepared statement; binds and steps throw FileError naming the file.
class Statement {
 public:
  Statement(sqlite3* db, const FileRef& file, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, double v);
  Statement& bind_null(int i);
  Statement& bind_blob(int i, const void* data, size_t bytes);
  /// true while a row is available.
  bool step();
  /// Steps to the end, then resets (bindings kept).
  void run();
  /// Resets and clears the bindings.
  void reset();

  int64_t integer(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  const void* blob(int col) const;
  int bytes(int col) const;
  bool is_null(int col) const;

 private:
  void check_bind(int rc);
  sqlite3* db_;
  const FileRef& file_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (an exception).
class Transaction {
 public:
  Transaction(sqlite3* db, const FileRef& file);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  sqlite3* db_;
  const FileRef& file_;
  bool open_ = true;
};

/// The current UTC time as ISO 8601: "2024-05-01T12:00:00Z", or with milliseconds
/// "2024-05-01T12:00:00.123Z".
std::string utc_now_iso8601(bool milliseconds = false);

}  // namespace siamese::sql
