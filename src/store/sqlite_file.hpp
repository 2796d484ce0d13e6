// store/sqlite_file.hpp — a SQLite database file that only its owner can read: created empty with
// mode 0600 before SQLite opens it, older files (and their -wal, -shm) narrowed. Shared by the state
// database and the mail index.
#pragma once

#include <filesystem>
#include <string>

namespace mk {

// owner_only_db - the database's name for SQLite, once its files are owner-only: existing ones
// narrowed (never through a symlink), a missing database created empty with mode 0600 (SQLite would
// create it 0644 less the umask, and the umask is the whole process's, not to be changed under
// other threads). SQLite gives -wal and -shm the database's mode. Throws StorageError.
std::string owner_only_db(const std::filesystem::path& file);

}  // namespace mk
