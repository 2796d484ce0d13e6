// tests/fuzz/fuzz_multidrop.cpp — libFuzzer target: multidrop recipients from a hostile header
// section (GMime parses it; our code reads the addresses and routes them). Whatever the bytes, the
// answer names only configured users and well-formed remote addresses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/address.hpp"
#include "route/multidrop.hpp"

namespace {

const mk::Config& household() {
    static const mk::Config c = [] {
        mk::Config c;
        c.local_domains = {"home.arpa", "example.org"};
        c.postmaster = "postmaster@home.arpa";
        c.users = {
            {"anna", "", {"anna@home.arpa"}, {}, true},
            {"ben", "", {"ben@home.arpa", "ben@example.org"}, {"ben@provider.example"}, true},
            {"postmaster", "", {"postmaster@home.arpa"}, {}, true},
        };
        c.aliases = {{"family@home.arpa", {"anna", "ben"}}, {"loop@home.arpa", {"loop@home.arpa"}}};
        return c;
    }();
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view headers(reinterpret_cast<const char*>(data), size);
    const mk::Config& c = household();
    for (std::string_view envelope_header : {"auto", "X-Original-To"}) {
        mk::MultidropResult r = mk::multidrop_recipients(c, headers, envelope_header, "mailkeep-family@mail.home.arpa");
        for (const std::string& u : r.users)
            if (!c.find_user(u)) __builtin_trap();
        for (const mk::Target& t : r.remote)
            if (!mk::parse_mailbox(t.name, true) || (!t.original.empty() && !mk::parse_mailbox(t.original, true)))
                __builtin_trap();
    }
    return 0;
}
