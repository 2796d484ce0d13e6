// tests/unit/test_shared_helpers.cpp — the single helpers several modules share: SHA-256 in hex
// (core/sha256), positional reads across short reads (core/pread), loopback addresses (core/ip).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <boost/asio/ip/address.hpp>

#include "core/ip.hpp"
#include "core/pread.hpp"
#include "core/sha256.hpp"
#include "temp_dir.hpp"

namespace mk {
namespace {

TEST(Sha256, KnownAnswersWholeAndInPieces) {
    // FIPS 180-4 examples (NIST CSRC "SHA256.pdf"): "abc", and the empty message.
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256 pieces;
    pieces.update("a");
    pieces.update("");
    pieces.update("bc");
    EXPECT_EQ(pieces.hex(), sha256_hex("abc"));
    EXPECT_EQ(sha256_hex(std::string("a\0b", 3)).size(), 64u);
}

TEST(Pread, FullReadsAtAnOffsetAndShortOnlyAtTheEnd) {
    test::TempDir t;
    const auto file = t.path / "f";
    std::string content;
    for (int i = 0; i < 100000; ++i) content += static_cast<char>('a' + i % 26);
    std::ofstream(file, std::ios::binary) << content;
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    std::string buf(70000, '\0');
    ASSERT_EQ(pread_full(fd, buf.data(), buf.size(), 1000), 70000);
    EXPECT_EQ(buf, content.substr(1000, 70000));
    // Past what the file holds: what there is, then nothing.
    ASSERT_EQ(pread_full(fd, buf.data(), buf.size(), 50000), 50000);
    EXPECT_EQ(buf.substr(0, 50000), content.substr(50000));
    EXPECT_EQ(pread_full(fd, buf.data(), buf.size(), 100000), 0);
    ::close(fd);
    EXPECT_EQ(pread_full(fd, buf.data(), 1, 0), -1);   // a closed descriptor
}

TEST(Ip, LoopbackPeers) {
    struct Row {
        const char* address;
        bool loopback;
    };
    const Row rows[] = {
        {"127.0.0.1", true},        {"127.255.0.9", true},     {"::1", true},
        {"::ffff:127.0.0.1", true},  // an IPv4 peer on a dual-stack socket
        {"::ffff:10.0.0.1", false}, {"10.0.0.1", false},       {"::", false},
        {"fe80::1", false},         {"0.0.0.0", false},
    };
    for (const Row& r : rows) EXPECT_EQ(is_loopback(boost::asio::ip::make_address(r.address)), r.loopback) << r.address;
}

}  // namespace
}  // namespace mk
