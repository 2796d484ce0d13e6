// core/config_read.cpp — the typed getters of ConfigReader: a key absent gives nothing, a key of the wrong
// type or value an error naming it.
#include "core/config_read.hpp"

#include "core/size.hpp"

namespace mk::config_detail {

namespace {

constexpr const char* kDurationForm = " must be a duration like \"90s\", \"15m\", \"4h\" or \"5d\", above zero";

}  // namespace

// reject_unknown - an error for each key of t not in known: typos must not pass silently.
void ConfigReader::reject_unknown(const toml::table& t, std::string_view section, std::span<const std::string_view> known) {
    for (auto&& [key, node] : t) {
        if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
        error(key.source().begin.line,
              "unknown key " + in_quotes(key.str()) + (section.empty() ? "" : " in " + std::string(section)));
    }
}

// text - a string.
std::optional<Text> ConfigReader::text(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (auto s = n->as_string()) return Text{s->get(), line_of(*n)};
    error(line_of(*n), std::string(key) + " must be a string");
    return std::nullopt;
}

// texts - a list of strings, each with its own line.
std::optional<std::vector<Text>> ConfigReader::texts(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const toml::array* a = n->as_array();
    if (!a) {
        error(line_of(*n), std::string(key) + " must be a list of strings");
        return std::nullopt;
    }
    std::vector<Text> out;
    for (const toml::node& el : *a) {
        if (auto s = el.as_string()) out.push_back({s->get(), line_of(el)});
        else error(line_of(el), std::string(key) + " must be a list of strings");
    }
    return out;
}

// positive - an integer above zero.
std::optional<std::uint64_t> ConfigReader::positive(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (auto i = n->as_integer(); i && i->get() > 0) return static_cast<std::uint64_t>(i->get());
    error(line_of(*n), std::string(key) + " must be a positive integer");
    return std::nullopt;
}

// port - a TCP port, 1..65535.
std::optional<std::uint16_t> ConfigReader::port(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (auto i = n->as_integer(); i && i->get() >= 1 && i->get() <= 65535)
        return static_cast<std::uint16_t>(i->get());
    error(line_of(*n), std::string(key) + " must be a port number from 1 to 65535");
    return std::nullopt;
}

// duration_of - n as a duration above zero ("5m"); key names it in the error.
std::optional<std::chrono::seconds> ConfigReader::duration_of(const toml::node& n, std::string_view key) {
    if (auto s = n.as_string())
        if (auto d = parse_duration(s->get()); d && d->count() > 0) return d;
    error(line_of(n), std::string(key) + kDurationForm);
    return std::nullopt;
}

// duration - the key as a duration above zero.
std::optional<std::chrono::seconds> ConfigReader::duration(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    return n ? duration_of(*n, key) : std::nullopt;
}

// size - a size like "25M", or a positive number of bytes.
std::optional<std::uint64_t> ConfigReader::size(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    std::optional<std::uint64_t> v;
    if (auto s = n->as_string()) v = parse_size(s->get());
    else if (auto i = n->as_integer(); i && i->get() > 0) v = static_cast<std::uint64_t>(i->get());
    if (v && *v > 0) return v;
    error(line_of(*n), std::string(key) + " must be a size like \"25M\" or a positive number of bytes");
    return std::nullopt;
}

// boolean - true or false.
std::optional<bool> ConfigReader::boolean(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (auto b = n->as_boolean()) return b->get();
    error(line_of(*n), std::string(key) + " must be true or false");
    return std::nullopt;
}

// table - a [section].
const toml::table* ConfigReader::table(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (auto tt = n->as_table()) return tt;
    error(line_of(*n), std::string(key) + " must be a table [" + std::string(key) + "]");
    return nullptr;
}

// table_array - the [[key]] tables, in file order; path is the dotted name for messages (default key).
std::vector<const toml::table*> ConfigReader::table_array(const toml::table& t, std::string_view key, std::string_view path) {
    if (path.empty()) path = key;
    std::vector<const toml::table*> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (a && a->is_array_of_tables()) {
        for (const toml::node& el : *a) out.push_back(el.as_table());
        return out;
    }
    error(line_of(*n), std::string(key) + " must be written as [[" + std::string(path) + "]] tables");
    return out;
}

}  // namespace mk::config_detail
