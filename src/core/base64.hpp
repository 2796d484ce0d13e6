// core/base64.hpp — RFC 4648 base64, strict on decode (untrusted input from AUTH exchanges).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mk {

std::string base64_encode(std::string_view in);
// base64_decode - nullopt on any character outside the alphabet or bad padding.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace mk
