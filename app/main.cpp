#include "headless.h"

// The window arrives with the desktop issue; until then every invocation is the headless CLI
// (`--headless` is accepted so scripts written now keep working then).
int main(int argc, char** argv) {
    return kvscope::runHeadless(argc, argv);
}
