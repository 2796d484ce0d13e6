// server/privileges.hpp — a daemon started as root: what it checks before it trusts the config file
// and the data directory, and how it gives root up. Root reads the config, binds the ports and reads
// the TLS key; it never changes the owner or mode of a file: everything in the data directory is
// created by the run_as user itself.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>

namespace mk {

// The account a daemon started as root continues as (run_as).
struct RunAs {
    std::string name, group;
    uid_t uid = 0;
    gid_t gid = 0;
};

// run_as_user - the account named by run_as when this process is root; nullopt when the daemon
// keeps its own identity (not root, or no run_as). Throws for an unknown user.
std::optional<RunAs> run_as_user(const std::string& run_as);

// checked_config_path - for a daemon started as root: file with its symbolic links resolved, once
// it is sure that only root can change it (the config chooses data_dir, run_as and the commands the
// daemon runs). Throws, saying which file or directory others could write, otherwise.
std::filesystem::path checked_config_path(const std::filesystem::path& file);

// check_data_dir - the data directory exists, belongs to the run_as user and is usable by it; the
// installer's job, as for Postfix's queue directory. Throws with the command that makes it so.
void check_data_dir(const std::filesystem::path& dir, const RunAs& user);

// readable_by - whether the user can read file (its directories searched, the file read) as it is now.
// A daemon that has become the user rereads its config and TLS files on SIGHUP as the user: the
// admin makes them so (root:GROUP 0640), and start-up warns where they are not.
bool readable_by(const std::filesystem::path& file, const RunAs& user);

// EffectiveIds - for its lifetime the effective uid and gid are the user's: what is created belongs
// to the user, and the user's permissions are checked (a file planted by the user cannot lead root
// into writing someone else's). Root again at the end of the scope.
class EffectiveIds {
public:
    explicit EffectiveIds(const RunAs& user);
    ~EffectiveIds();
    EffectiveIds(const EffectiveIds&) = delete;
    EffectiveIds& operator=(const EffectiveIds&) = delete;
};

// as_user - f() under the user's effective ids when user is set, else as this process is.
template <class F>
std::invoke_result_t<F> as_user(const std::optional<RunAs>& user, F&& f) {
    if (!user) return f();
    EffectiveIds ids(*user);
    return f();
}

// drop_privileges - become the user for good (no supplementary groups, its gid, its uid) and
// check that root cannot be had back.
void drop_privileges(const RunAs& user);

}  // namespace mk
