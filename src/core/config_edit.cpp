// core/config_edit.cpp — appends users to mailkeep.toml for the CLI; admin input, checked like the file.
#include "core/config_edit.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/address.hpp"

namespace mk {

namespace {

namespace fs = std::filesystem;

// in_quotes - s in single quotes, for messages.
std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// toml_list - ["a", "b"] as a TOML array of basic strings.
std::string toml_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_quote(items[i]);
    return out + "]";
}

// owner_of - who already has address, for the error message; empty if nobody.
std::string owner_of(const Config& cfg, const std::string& address) {
    for (const UserConfig& u : cfg.users)
        if (std::find(u.addresses.begin(), u.addresses.end(), address) != u.addresses.end())
            return "user " + u.name;
    for (const AliasConfig& a : cfg.aliases)
        if (a.address == address) return "an alias";
    return {};
}

// check_new_user - user's own problems against cfg (changes nothing); fills normalized addresses.
std::vector<std::string> check_new_user(const Config& cfg, const UserConfig& user, UserConfig& normalized) {
    std::vector<std::string> problems;
    if (!valid_user_name(user.name))
        problems.push_back("user name " + in_quotes(user.name) + " must be " + kUserNameRule);
    if (cfg.find_user(user.name)) problems.push_back("user " + in_quotes(user.name) + " already exists");
    normalized = user;
    normalized.addresses.clear();
    for (const std::string& a : user.addresses) {
        auto m = parse_mailbox(a);
        std::string what = "address " + in_quotes(a);
        if (!m) problems.push_back(what + " is not a valid address");
        else if (!cfg.is_local_domain(m->domain)) problems.push_back(what + " is not in a local domain");
        else if (auto owner = owner_of(cfg, m->str()); !owner.empty())
            problems.push_back(what + " is already used by " + owner);
        else normalized.addresses.push_back(m->str());
    }
    return problems;
}

// errno_text - "what path: strerror(errno)".
std::string errno_text(std::string_view what, const fs::path& p) {
    return std::string(what) + " " + p.string() + ": " + std::strerror(errno);
}

// write_all - the whole buffer, across short writes and signals.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// replace_file - put text in place of file so that a crash leaves the old or the new file,
// never a mix; keeps the old file's mode and owner (it holds password hashes).
// XXX: two concurrent edits can lose one; the CLI is run by one admin at a time.
std::optional<std::string> replace_file(const fs::path& file, const struct stat& old, const std::string& text) {
    fs::path tmp = file;
    tmp += ".tmp";
    // 1. Create the temporary next to the file (same filesystem, so rename is atomic).
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno_text("cannot create", tmp);
    auto fail = [&](std::string_view what) {
        std::string msg = errno_text(what, tmp);
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        return msg;
    };
    // 2. Same mode and owner as before; the mode is set after open because of the umask.
    if (::fchmod(fd, old.st_mode & 07777) != 0) return fail("cannot chmod");
    if (::fchown(fd, old.st_uid, old.st_gid) != 0) return fail("cannot chown");
    // 3. Write, fsync, and check close too.
    if (!write_all(fd, text)) return fail("cannot write");
    if (::fsync(fd) != 0) return fail("cannot fsync");
    int closed = ::close(fd);
    fd = -1;
    if (closed != 0) return fail("cannot close");
    // 4. Rename into place, then fsync the directory so the rename itself is durable.
    if (::rename(tmp.c_str(), file.c_str()) != 0) return fail("cannot rename");
    int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return errno_text("cannot open", file.parent_path());
    bool synced = ::fsync(dir) == 0;
    ::close(dir);   // read-only descriptor: nothing to lose on close
    if (!synced) return errno_text("cannot fsync", file.parent_path());
    return std::nullopt;
}

}  // namespace

std::string user_block(const UserConfig& user) {
    return "[[user]]\n"
           "name = " + toml_quote(user.name) + "\n"
           "password = " + toml_quote(user.password_hash) + "\n"
           "addresses = " + toml_list(user.addresses) + "\n"
           "forward_to = " + toml_list(user.forward_to) + "\n"
           "keep_copy = " + (user.keep_copy ? "true" : "false") + "\n";
}

std::vector<ConfigError> add_user_to_file(const fs::path& file, const UserConfig& user) {
    std::error_code ec;
    fs::path real = fs::canonical(file, ec);   // through a symlink: edit its target, keep the link
    if (ec) return {{file.string(), 0, "cannot open: " + ec.message()}};
    std::string error;
    auto text = read_config_file(real, error);
    if (!text) return {{real.string(), 0, error}};
    struct stat st {};   // the mode and owner to keep
    if (::stat(real.c_str(), &st) != 0) return {{real.string(), 0, errno_text("cannot stat", real)}};

    ConfigResult current = parse_config(*text, real.string());
    if (!current.config) return current.errors;   // fix the file first: we would only add to the pile
    UserConfig normalized;
    std::vector<ConfigError> errors;
    for (std::string& p : check_new_user(*current.config, user, normalized))
        errors.push_back({real.string(), 0, std::move(p)});
    if (!errors.empty()) return errors;

    if (!text->empty() && !text->ends_with('\n')) *text += '\n';
    *text += "\n" + user_block(normalized);
    // The whole file is checked again, so nothing is renamed into place that would not load.
    ConfigResult next = parse_config(*text, real.string());
    if (!next.config) return next.errors;
    if (auto problem = replace_file(real, st, *text)) return {{real.string(), 0, *problem}};
    return {};
}

}  // namespace mk
