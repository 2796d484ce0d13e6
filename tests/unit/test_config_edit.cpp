// tests/unit/test_config_edit.cpp — appending users to mailkeep.toml: comments survive, bad users are refused.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config_edit.hpp"

namespace mk {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

UserConfig make_user(std::string name, std::vector<std::string> addresses) {
    UserConfig u;
    u.name = std::move(name);
    u.password_hash = "$y$j9T$EcArzCubVFec9hMl.QycA.$Xg2ogAZaw4ewIucBL3y6.zwSPsin7lh5snn09aBzQR0";
    u.addresses = std::move(addresses);
    return u;
}

class ConfigEdit : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("mk-edit-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        file = dir / "mailkeep.toml";
        original = default_config_text(dir / "data") + "\n# the admin's own note\n" +
                   user_block(make_user("postmaster", {"postmaster@home.arpa"})) +
                   "\n[[alias]]   # family list\naddress = \"family@home.arpa\"\nto = [\"postmaster\"]\n";
        std::ofstream(file) << original;
        ::chmod(file.c_str(), 0640);
    }
    void TearDown() override { fs::remove_all(dir); }

    fs::path dir, file;
    std::string original;
};

TEST_F(ConfigEdit, AppendsAndKeepsComments) {
    UserConfig anna = make_user("anna", {"anna@HOME.ARPA"});
    anna.forward_to = {"anna@remote.example"};
    anna.keep_copy = false;
    auto errors = add_user_to_file(file, anna);
    ASSERT_TRUE(errors.empty()) << errors[0].to_string();

    std::string text = read_text(file);
    EXPECT_TRUE(text.starts_with(original));   // every byte before, comments included, unchanged
    EXPECT_NE(text.find("# the admin's own note"), std::string::npos);
    ConfigResult r = load_config(file);
    ASSERT_TRUE(r.config) << r.errors[0].to_string();
    const UserConfig* got = r.config->find_user("anna");
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->password_hash, anna.password_hash);
    EXPECT_EQ(got->addresses, std::vector<std::string>{"anna@home.arpa"});   // domain lowercased
    EXPECT_EQ(got->forward_to, anna.forward_to);
    EXPECT_FALSE(got->keep_copy);
    EXPECT_EQ(r.config->aliases.size(), 1u);

    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);   // mode kept: the file holds password hashes
    EXPECT_FALSE(fs::exists(dir / "mailkeep.toml.tmp"));

    ASSERT_TRUE(add_user_to_file(file, make_user("ben", {"ben@home.arpa"})).empty());
    ASSERT_TRUE(load_config(file).config);
}

TEST_F(ConfigEdit, FileWithoutFinalNewline) {
    std::ofstream(file, std::ios::trunc) << "# no users yet\nlocal_domains = [\"home.arpa\"]";
    ASSERT_TRUE(add_user_to_file(file, make_user("postmaster", {"postmaster@home.arpa"})).empty());
    EXPECT_TRUE(load_config(file).config);
}

TEST_F(ConfigEdit, RefusesAndLeavesTheFileAlone) {
    struct Case {
        UserConfig user;
        const char* what;
    };
    UserConfig bad_forward = make_user("carl", {"carl@home.arpa"});
    bad_forward.forward_to = {"not an address"};
    const Case cases[] = {
        {make_user("postmaster", {"pm2@home.arpa"}), "user 'postmaster' already exists"},
        {make_user("carl", {"postmaster@home.arpa"}), "already used by user postmaster"},
        {make_user("carl", {"postmaster@HOME.Arpa"}), "already used by user postmaster"},
        {make_user("carl", {"family@home.arpa"}), "already used by an alias"},
        {make_user("carl", {"carl@gmail.com"}), "is not in a local domain"},
        {make_user("carl", {"carl"}), "is not a valid address"},
        {make_user("Carl", {"carl@home.arpa"}), "must be [a-z0-9._-]+"},
        {make_user("../carl", {"carl@home.arpa"}), "must be [a-z0-9._-]+"},
        {make_user("carl", {"carl@home.arpa", "carl@home.arpa"}), "already used"},   // caught on re-check
        {bad_forward, "forward_to 'not an address' is not a valid address"},         // caught on re-check
    };
    for (const Case& c : cases) {
        auto errors = add_user_to_file(file, c.user);
        ASSERT_FALSE(errors.empty()) << c.what;
        EXPECT_NE(errors[0].what.find(c.what), std::string::npos) << errors[0].to_string();
        EXPECT_EQ(read_text(file), original) << c.what;
        EXPECT_FALSE(fs::exists(dir / "mailkeep.toml.tmp"));
    }
}

TEST_F(ConfigEdit, BrokenFileIsReportedNotEdited) {
    std::ofstream(file, std::ios::trunc) << "hostname = 5\n";
    auto errors = add_user_to_file(file, make_user("anna", {"anna@home.arpa"}));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].line, 1u);
    EXPECT_EQ(read_text(file), "hostname = 5\n");

    errors = add_user_to_file(dir / "missing.toml", make_user("anna", {"anna@home.arpa"}));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].what.find("cannot open"), std::string::npos);
}

TEST_F(ConfigEdit, ThroughASymlinkTheTargetChanges) {
    fs::path link = dir / "link.toml";
    fs::create_symlink(file, link);
    ASSERT_TRUE(add_user_to_file(link, make_user("anna", {"anna@home.arpa"})).empty());
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_TRUE(load_config(file).config->find_user("anna"));
}

TEST(UserBlock, RoundTripsThroughTheParser) {
    UserConfig u = make_user("x", {"\"odd\\\\local\"@home.arpa"});
    u.forward_to = {"a@b.example", "c@d.example"};
    u.keep_copy = false;
    std::string text = "postmaster = \"root@elsewhere.example\"\n" + user_block(u);
    EXPECT_TRUE(user_block(u).starts_with("[[user]]\n"));
    EXPECT_TRUE(user_block(u).ends_with("\n"));
    ConfigResult r = parse_config(text, "t.toml");
    ASSERT_TRUE(r.config) << r.errors[0].to_string();
    const UserConfig& got = r.config->users.at(0);
    EXPECT_EQ(got.name, u.name);
    EXPECT_EQ(got.password_hash, u.password_hash);
    EXPECT_EQ(got.addresses, u.addresses);
    EXPECT_EQ(got.forward_to, u.forward_to);
    EXPECT_EQ(got.keep_copy, u.keep_copy);
}

// What first run does: the default text plus the postmaster's block must load.
TEST(UserBlock, FirstRunConfigLoads) {
    std::string text = default_config_text("/var/lib/mailkeep") +
                       user_block(make_user("postmaster", {"postmaster@home.arpa"}));
    ConfigResult r = parse_config(text, "/etc/mailkeep/mailkeep.toml");
    ASSERT_TRUE(r.config) << r.errors[0].to_string();
    EXPECT_EQ(r.config->users.size(), 1u);
}

}  // namespace
}  // namespace mk
