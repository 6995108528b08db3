#include "gui.h"
#include "headless.h"

#include <cstring>
#include <initializer_list>

// One executable: the window by default, the command line with --headless (and for --help and
// --version, which must work without a display).
int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        for (const char* flag : {"--headless", "--help", "-h", "--help-all", "--version", "-v"})
            if (std::strcmp(argv[i], flag) == 0) return kvscope::runHeadless(argc, argv);
    }
    return kvscope::runGui(argc, argv);
}
