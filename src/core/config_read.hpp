// core/config_read.hpp — reading typed values out of a parsed mailkeep.toml, each error naming the key and
// its line; internal to core/config*.cpp (toml++ stays out of config.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "core/config.hpp"

namespace mk::config_detail {

// A string from the file and the line it is on.
struct Text {
    std::string value;
    std::size_t line = 0;
};

// line_of - where n is in the file (1-based).
inline std::size_t line_of(const toml::node& n) { return n.source().begin.line; }

// in_quotes - s in single quotes, for messages.
inline std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// join_keys - one key list made of several, at compile time, so shared keys are written once.
template <std::size_t... N>
constexpr auto join_keys(const std::array<std::string_view, N>&... lists) {
    std::array<std::string_view, (N + ...)> out{};
    std::size_t i = 0;
    ((std::copy(lists.begin(), lists.end(), out.begin() + i), i += N), ...);
    return out;
}

// ConfigReader - the typed getters every section's reader uses; collects every error instead of stopping.
class ConfigReader {
public:
    explicit ConfigReader(std::string file) : file_(std::move(file)) {}

    std::vector<ConfigError> errors;

protected:
    // error - record a problem at line (0 = not tied to a line).
    void error(std::size_t line, std::string what) { errors.push_back({file_, line, std::move(what)}); }

    void reject_unknown(const toml::table& t, std::string_view section, std::span<const std::string_view> known);

    // The readers below return nothing for an absent key and report a wrongly typed one.
    std::optional<Text> text(const toml::table& t, std::string_view key);
    std::optional<std::vector<Text>> texts(const toml::table& t, std::string_view key);
    std::optional<std::uint64_t> positive(const toml::table& t, std::string_view key);
    std::optional<std::uint16_t> port(const toml::table& t, std::string_view key);
    std::optional<std::chrono::seconds> duration_of(const toml::node& n, std::string_view key);
    std::optional<std::chrono::seconds> duration(const toml::table& t, std::string_view key);
    std::optional<std::uint64_t> size(const toml::table& t, std::string_view key);
    // choice - a string naming one row of rows ({name, mode}); the error lists the names allowed.
    template <typename Row, std::size_t N>
    std::optional<Row> choice(const toml::table& t, std::string_view key, const Row (&rows)[N]) {
        auto v = text(t, key);
        if (!v) return std::nullopt;
        std::string names;
        for (std::size_t i = 0; i < N; ++i) {
            if (rows[i].name == v->value) return rows[i];
            names += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + ("\"" + std::string(rows[i].name) + "\"");
        }
        error(v->line, std::string(key) + " " + in_quotes(v->value) + " must be " + names);
        return std::nullopt;
    }
    std::optional<bool> boolean(const toml::table& t, std::string_view key);
    const toml::table* table(const toml::table& t, std::string_view key);
    std::vector<const toml::table*> table_array(const toml::table& t, std::string_view key, std::string_view path = {});

private:
    std::string file_;
};

}  // namespace mk::config_detail
