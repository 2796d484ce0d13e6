// server/privileges.cpp — the checks of a daemon started as root and its privilege drop; trusts no
// file that the run_as user (which an attacker who took over the daemon would be) can change.
#include "server/privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mk {

namespace fs = std::filesystem;

namespace {

// user_name - the account name of uid, or "uid N".
std::string user_name(uid_t uid) {
    const struct passwd* pw = ::getpwuid(uid);
    return pw ? pw->pw_name : fmt::format("uid {}", uid);
}

// group_name - the name of gid, or "gid N".
std::string group_name(gid_t gid) {
    const struct group* gr = ::getgrgid(gid);
    return gr ? gr->gr_name : fmt::format("gid {}", gid);
}

// writable_by_others - why someone other than root could change p (a file, or a directory whose
// entries could be replaced), or nullopt. A sticky directory such as /tmp may be writable by all:
// there only an entry's owner may rename or remove it, and the entry below is checked to be root's.
std::optional<std::string> writable_by_others(const fs::path& p, const struct stat& st) {
    if (st.st_uid != 0) return fmt::format("{} belongs to {}", p.string(), user_name(st.st_uid));
    if (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)) return std::nullopt;
    if (st.st_mode & S_IWOTH) return fmt::format("{} is writable by everyone", p.string());
    if (st.st_mode & S_IWGRP) return fmt::format("{} is writable by group {}", p.string(), group_name(st.st_gid));
    return std::nullopt;
}

// set_effective_ids - switch the effective uid and gid; leaving root, the group goes first (it
// needs root), coming back the uid does.
bool set_effective_ids(uid_t uid, gid_t gid) {
    if (uid == 0) return ::seteuid(0) == 0 && ::setegid(gid) == 0;
    return ::setegid(gid) == 0 && ::seteuid(uid) == 0;
}

}  // namespace

std::optional<RunAs> run_as_user(const std::string& run_as) {
    if (run_as.empty() || ::geteuid() != 0) return std::nullopt;
    const struct passwd* pw = ::getpwnam(run_as.c_str());
    if (!pw) throw std::runtime_error(fmt::format("run_as: no such user '{}'", run_as));
    return RunAs{run_as, group_name(pw->pw_gid), pw->pw_uid, pw->pw_gid};
}

fs::path checked_config_path(const fs::path& file) {
    std::error_code ec;
    // Resolved, so that what is checked is what is read, now and on SIGHUP.
    fs::path real = fs::canonical(file, ec);
    if (ec) throw std::runtime_error(fmt::format("{}: {}", file.string(), ec.message()));
    for (fs::path p = real;; p = p.parent_path()) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0)
            throw std::runtime_error(fmt::format("{}: {}", p.string(), std::strerror(errno)));
        if (auto why = writable_by_others(p, st))
            throw std::runtime_error(fmt::format(
                "{}: not read: a daemon started as root reads only a config that nobody else can change, but {}; "
                "the file and every directory above it must belong to root and be writable by nobody else (keep "
                "it in /etc/mailkeep/, readable by the run_as user)",
                file.string(), *why));
        if (p == p.parent_path()) return real;   // the root directory
    }
}

void check_data_dir(const fs::path& dir, const RunAs& user) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT)
            throw std::runtime_error(fmt::format(
                "data_dir {} does not exist; make it for the run_as user once: install -d -o {} -g {} -m 0700 {}",
                dir.string(), user.name, user.group, dir.string()));
        throw std::runtime_error(fmt::format("data_dir {}: {}", dir.string(), std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error(fmt::format("data_dir {} is not a directory", dir.string()));
    if (st.st_uid != user.uid)
        throw std::runtime_error(fmt::format(
            "data_dir {} belongs to {}, not to the run_as user {}, and mailkeep never changes the owner of files "
            "it did not create; if it is mailkeep's data directory, hand it over once: chown -R {}:{} {}",
            dir.string(), user_name(st.st_uid), user.name, user.name, user.group, dir.string()));
    // Fail at start, not at the first message: a directory above may be closed to this user.
    EffectiveIds ids(user);
    if (::faccessat(AT_FDCWD, dir.c_str(), R_OK | W_OK | X_OK, AT_EACCESS) != 0)
        throw std::runtime_error(fmt::format("run_as: user '{}' cannot use {}: {}", user.name, dir.string(),
                                             std::strerror(errno)));
}

bool readable_by(const fs::path& file, const RunAs& user) {
    EffectiveIds ids(user);
    return ::faccessat(AT_FDCWD, file.c_str(), R_OK, AT_EACCESS) == 0;
}

EffectiveIds::EffectiveIds(const RunAs& user) {
    // The daemon never has supplementary groups: dropped here for good, so none of root's apply.
    if (::setgroups(0, nullptr) != 0 || !set_effective_ids(user.uid, user.gid))
        throw std::runtime_error(fmt::format("run_as: cannot act as '{}': {}", user.name, std::strerror(errno)));
}

EffectiveIds::~EffectiveIds() {
    // A process whose saved set-user-ID is 0 cannot fail here; if it did, nothing may run on with
    // ids nobody chose.
    if (!set_effective_ids(0, 0)) {
        std::cerr << "mailkeep: cannot return to root's effective ids: " << std::strerror(errno) << "\n";
        std::abort();
    }
}

void drop_privileges(const RunAs& user) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0)
        throw std::runtime_error(fmt::format("run_as: cannot become '{}': {}", user.name, std::strerror(errno)));
    if (::setuid(0) == 0) throw std::runtime_error("run_as: privileges were not dropped");
    spdlog::info("running as {} (uid {})", user.name, user.uid);
}

}  // namespace mk
