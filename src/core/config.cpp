// core/config.cpp — TOML to Config: loading and parsing, the top-level keys and the checks that need the
// whole file; each section is read in a core/config_*.cpp of its own (config_builder.hpp says which). A
// trusted but hand-written file: each mistake is reported with its line.
#include "core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include "core/address.hpp"
#include "core/config_builder.hpp"
#include "core/config_values.hpp"

namespace mk {

namespace config_detail {

namespace {

constexpr std::string_view kDefaultTrusted[] = {"127.0.0.0/8", "::1/128"};

constexpr std::string_view kTopKeys[] = {"hostname", "data_dir", "local_domains", "postmaster",
                                         "trusted_networks", "run_as", "catch_all", "listen",
                                         "tls", "limits", "user", "alias", "relay", "route", "delivery",
                                         "account", "fetch", "odmr", "etrn"};

}  // namespace

// read - the whole document; the order matters: domains before addresses, users before aliases.
void Builder::read(const toml::table& root) {
    reject_unknown(root, "", kTopKeys);
    read_top(root);
    read_listen(table(root, "listen"));
    read_tls(table(root, "tls"));
    read_limits(table(root, "limits"));
    for (const toml::table* t : table_array(root, "user")) read_user(*t);
    for (const toml::table* t : table_array(root, "alias")) read_alias(*t);
    read_relay(table(root, "relay"));   // after the users: a relay sender must be one of theirs
    for (const toml::table* t : table_array(root, "route")) read_route(*t);
    read_odmr(table(root, "odmr"));   // after the users and the routes, which a hold domain must not be
    for (const toml::table* t : table_array(root, "etrn")) read_etrn(*t);
    read_delivery(table(root, "delivery"));
    for (const toml::table* t : table_array(root, "account")) read_account(*t);   // after the users
    read_fetch(table(root, "fetch"));
    check_catch_all();
    check_postmaster();
}

// read_top - the top-level keys.
void Builder::read_top(const toml::table& root) {
    if (auto v = text(root, "hostname")) {
        if (auto d = parse_domain(v->value)) cfg_.hostname = *d;
        else error(v->line, "hostname " + in_quotes(v->value) + " is not a domain name");
    }
    if (auto v = text(root, "data_dir")) {
        if (v->value.empty()) error(v->line, "data_dir is empty");
        cfg_.data_dir = v->value;
    }
    if (auto list = texts(root, "local_domains")) {
        cfg_.local_domains.clear();
        for (const Text& d : *list) {
            if (auto dom = parse_domain(d.value)) cfg_.local_domains.push_back(*dom);
            else error(d.line, "local domain " + in_quotes(d.value) + " is not a domain name");
        }
        if (list->empty()) error(line_of(*root.get("local_domains")), "local_domains is empty");
    }
    if (auto v = text(root, "postmaster")) {
        cfg_.postmaster = v->value;
        postmaster_line_ = v->line;
    }
    auto nets = texts(root, "trusted_networks");
    if (!nets) {
        nets.emplace();
        for (std::string_view d : kDefaultTrusted) nets->push_back({std::string(d), 0});
    }
    for (const Text& n : *nets) {
        if (auto c = Cidr::parse(n.value)) cfg_.trusted_networks.push_back(*c);
        else error(n.line, "bad CIDR " + in_quotes(n.value) + " in trusted_networks");
    }
    if (auto v = text(root, "run_as")) cfg_.run_as = v->value;
    if (auto v = text(root, "catch_all")) set_catch_all(*v);
}

// set_catch_all - from the top level or an [[alias]]; only once.
void Builder::set_catch_all(const Text& v) {
    if (catch_all_) {
        error(v.line, "catch_all is already set at line " + std::to_string(catch_all_->line));
        return;
    }
    catch_all_ = v;
    cfg_.catch_all = v.value;
}

// check_catch_all - it names a user (known only after every [[user]] is read).
void Builder::check_catch_all() {
    if (catch_all_ && !users_.contains(catch_all_->value))
        error(catch_all_->line, "catch_all " + in_quotes(catch_all_->value) + " is not a user");
}

// check_postmaster - RFC 5321 4.5.1: postmaster must be deliverable. A file without users is the first-run
// template, to which the postmaster's [[user]] is appended, so it is checked once users exist.
void Builder::check_postmaster() {
    if (cfg_.postmaster.empty()) {
        error(postmaster_line_, "postmaster address missing");
        return;
    }
    auto m = parse_mailbox(cfg_.postmaster);
    if (!m) {
        error(postmaster_line_, "postmaster " + in_quotes(cfg_.postmaster) + " is not a valid address");
        return;
    }
    cfg_.postmaster = m->str();
    bool delivered = taken_.contains(cfg_.postmaster) || catch_all_;
    if (!cfg_.users.empty() && cfg_.is_local_domain(m->domain) && !delivered)
        error(postmaster_line_, "postmaster address " + in_quotes(cfg_.postmaster) +
                                    " missing: give it to a user or an alias, or set catch_all");
}

}  // namespace config_detail

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kReadChunk = 64 * 1024;   // bytes per read(2) of the config file

}  // namespace

const UserConfig* Config::find_user(std::string_view name) const {
    auto it = std::find_if(users.begin(), users.end(), [&](const UserConfig& u) { return u.name == name; });
    return it == users.end() ? nullptr : &*it;
}

const AccountConfig* Config::find_account(std::string_view name) const {
    auto it = std::find_if(accounts.begin(), accounts.end(), [&](const AccountConfig& a) { return a.name == name; });
    return it == accounts.end() ? nullptr : &*it;
}

const OdmrHoldConfig* OdmrConfig::hold_for(std::string_view domain) const {
    for (const OdmrHoldConfig& h : hold)
        if (h.domain == domain) return &h;
    return nullptr;
}

bool Config::is_local_domain(std::string_view domain) const {
    return std::find(local_domains.begin(), local_domains.end(), domain) != local_domains.end();
}

std::string ConfigError::to_string() const {
    return line == 0 ? file + ": " + what : file + ":" + std::to_string(line) + ": " + what;
}

bool valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxUserName || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
}

std::string toml_quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\f': out += "\\f"; break;
            case '\r': out += "\\r"; break;
            default:
                if (u < 0x20 || u == 0x7f) {   // TOML 1.0: other controls only as \uXXXX
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04X", u);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

ConfigResult parse_config(std::string_view text, const std::string& file) {
    ConfigResult result;
    auto cfg = std::make_shared<Config>();
    cfg->source = file;
    toml::table root;
    try {
        root = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        result.errors.push_back({file, e.source().begin.line, std::string(e.description())});
        return result;
    }
    config_detail::Builder builder(file, *cfg);
    builder.read(root);
    if (cfg->data_dir.is_relative())
        cfg->data_dir = (fs::path(file).parent_path() / cfg->data_dir).lexically_normal();
    result.errors = std::move(builder.errors);
    // In file order, so the admin can fix them top to bottom; those tied to no line come last.
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return (a.line == 0 ? SIZE_MAX : a.line) < (b.line == 0 ? SIZE_MAX : b.line);
    });
    if (result.errors.empty()) result.config = std::move(cfg);
    return result;
}

std::optional<std::string> read_config_file(const fs::path& file, std::string& error) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("cannot read: ") + std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    struct stat st {};
    // A directory opens fine and reads as nothing: it must not pass for an empty config.
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = "cannot read: not a regular file";
        ::close(fd);
        return std::nullopt;
    }
    char buf[kReadChunk];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = std::string("cannot read: ") + std::strerror(errno);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);   // read-only: a failing close loses nothing
    return text;
}

ConfigResult load_config(const fs::path& file) {
    // Absolute, so that data_dir and a reload on SIGHUP do not depend on the working directory.
    fs::path path = fs::absolute(file);
    std::string error;
    auto text = read_config_file(path, error);
    if (!text) return ConfigResult{nullptr, {{path.string(), 0, error}}};
    return parse_config(*text, path.string());
}

}  // namespace mk
