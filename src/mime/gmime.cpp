// mime/gmime.cpp — dlopen of GMime 3 and the lookup of every function mailkeep calls.
#include "mime/gmime.hpp"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace mk {

namespace {

static_assert(GMIME_MAJOR_VERSION == 3, "the soname below is GMime 3's");
constexpr const char* kGmimeSoname = "libgmime-3.0.so.0";

}  // namespace

Gmime::Gmime() {
    // Never closed: GMime keeps global state (g_mime_init) and is never shut down.
    void* h = ::dlopen(kGmimeSoname, RTLD_NOW | RTLD_LOCAL);
    if (!h) throw std::runtime_error(std::string("cannot load GMime: ") + ::dlerror());
    // dlsym on the handle searches GMime's own dependencies too (GObject's functions).
#define MK_GMIME_RESOLVE(name)                                                                         \
    name = reinterpret_cast<decltype(name)>(::dlsym(h, #name));                                        \
    if (!name) throw std::runtime_error(std::string("cannot load GMime: ") + kGmimeSoname + ": no " #name);
    MK_GMIME_FUNCTIONS(MK_GMIME_RESOLVE)
#undef MK_GMIME_RESOLVE
    g_mime_init();
}

const Gmime& gmime() {
    static const Gmime g;
    return g;
}

}  // namespace mk
