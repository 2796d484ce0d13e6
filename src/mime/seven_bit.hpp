// mime/seven_bit.hpp — RFC 6152 3: an 8-bit message for a server that does not offer 8BITMIME is
// converted, never sent as it is: every 8bit or binary body part is re-encoded (GMime picks
// quoted-printable or base64, whichever suits the part) and its Content-Transfer-Encoding says so.
// Header fields are not touched; one with 8-bit bytes cannot be converted (that needs SMTPUTF8).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/durable.hpp"

namespace mk {

// to_seven_bit - the message in file from offset skip, converted, in an anonymous in-memory file
// (memfd) read from offset 0; every byte of it is 7-bit (checked). nullopt with why set when it
// cannot be done. Blocking (reads and parses the whole message): call it on the blocking pool.
// Throws std::runtime_error when GMime cannot be loaded.
std::optional<Fd> to_seven_bit(const std::filesystem::path& file, std::uint64_t skip, std::string& why);

}  // namespace mk
