// core/config_users.cpp — the local recipients: [[user]] and [[alias]], and the claim of each local
// address by one of them.
#include <fmt/format.h>

#include "core/address.hpp"
#include "core/config_builder.hpp"
#include "core/cram_md5.hpp"
#include "core/password.hpp"

namespace mk::config_detail {

namespace {

constexpr std::string_view kUserKeys[] = {"name", "password", "addresses", "forward_to", "keep_copy", "cram_md5"};
// catch_all is top-level, but a key written below [[alias]] lands in that table; accepted there too.
constexpr std::string_view kAliasKeys[] = {"address", "to", "catch_all"};

}  // namespace

// claim - a user's or alias's own address: valid, in a local domain, not used before.
std::optional<std::string> Builder::claim(const Text& raw) {
    auto m = parse_mailbox(raw.value);
    if (!m) {
        error(raw.line, "address " + in_quotes(raw.value) + " is not a valid address");
        return std::nullopt;
    }
    if (!cfg_.is_local_domain(m->domain)) {
        error(raw.line, "address " + in_quotes(raw.value) + " is not in a local domain");
        return std::nullopt;
    }
    std::string address = m->str();
    if (auto [it, fresh] = taken_.emplace(address, raw.line); !fresh) {
        error(raw.line,
              "address " + in_quotes(address) + " is already used at line " + std::to_string(it->second));
        return std::nullopt;
    }
    return address;
}

// read_unique_name - the name of a [[user]] or an [[account]] (what): it names a directory or keys
// state, so it follows the user name rule, and it is given once among seen (name -> its line).
std::string Builder::read_unique_name(const toml::table& t, std::string_view what,
                                      std::map<std::string, std::size_t>& seen) {
    auto name = text(t, "name");
    if (!name) {
        if (!t.contains("name")) error(line_of(t), fmt::format("[[{}]] without a name", what));
        return {};
    }
    if (!valid_user_name(name->value))
        error(name->line, fmt::format("{} name {} must be {}", what, in_quotes(name->value), kUserNameRule));
    else if (auto [it, fresh] = seen.emplace(name->value, name->line); !fresh)
        error(name->line, fmt::format("duplicate {} {} (first at line {})", what, in_quotes(name->value), it->second));
    return name->value;
}

// read_user - one [[user]].
void Builder::read_user(const toml::table& t) {
    reject_unknown(t, "[[user]]", kUserKeys);
    UserConfig u;
    u.name = read_unique_name(t, "user", users_);
    if (auto v = text(t, "password")) {
        // A plain password here never matches; the value is not repeated: it may be one.
        if (auto problem = password_hash_problem(v->value))
            error(v->line, "password " + *problem + "; `mailkeep passwd` makes one from the password on its stdin");
        u.password_hash = v->value;
    }
    if (auto v = text(t, "cram_md5")) {
        // Stored as 64 lower-case hex digits; the value is not repeated: it is password-equivalent.
        if (auto context = parse_cram_md5_secret(v->value)) u.cram_md5 = cram_md5_hex(*context);
        else error(v->line, "cram_md5 is not a CRAM-MD5 secret (\"{CRAM-MD5}\" and 64 hex digits); `mailkeep passwd "
                            "--cram-md5` makes one from the password on its stdin");
    }
    for (const Text& a : texts(t, "addresses").value_or(std::vector<Text>{})) {
        if (auto address = claim(a)) {
            user_addresses_.insert(*address);
            u.addresses.push_back(*address);
        }
    }
    for (const Text& f : texts(t, "forward_to").value_or(std::vector<Text>{})) {
        if (auto m = parse_mailbox(f.value)) u.forward_to.push_back(m->str());
        else error(f.line, "forward_to " + in_quotes(f.value) + " is not a valid address");
    }
    if (auto v = boolean(t, "keep_copy")) u.keep_copy = *v;
    cfg_.users.push_back(std::move(u));
}

// read_alias - one [[alias]], or a table that only carries a misplaced catch_all.
void Builder::read_alias(const toml::table& t) {
    reject_unknown(t, "[[alias]]", kAliasKeys);
    if (auto v = text(t, "catch_all")) set_catch_all(*v);
    if (t.size() == 1 && t.contains("catch_all")) return;   // only the misplaced key, no alias
    AliasConfig a;
    if (auto v = text(t, "address")) {
        if (auto address = claim(*v)) a.address = *address;
    } else if (!t.contains("address")) {
        error(line_of(t), "[[alias]] without an address");
    }
    auto targets = texts(t, "to");
    if (!targets && !t.contains("to")) error(line_of(t), "[[alias]] without a 'to' list");
    if (targets && targets->empty()) error(line_of(*t.get("to")), "alias 'to' list is empty");
    for (const Text& target : targets.value_or(std::vector<Text>{})) {
        if (target.value.find('@') != std::string::npos) {
            if (auto m = parse_mailbox(target.value)) a.to.push_back(m->str());
            else error(target.line, "alias target " + in_quotes(target.value) + " is not a valid address");
        } else if (users_.contains(target.value)) {
            a.to.push_back(target.value);
        } else {
            error(target.line,
                  "alias target " + in_quotes(target.value) + " is neither a user nor an address");
        }
    }
    cfg_.aliases.push_back(std::move(a));
}

}  // namespace mk::config_detail
