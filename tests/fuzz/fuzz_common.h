#pragma once
// Shared by the fuzz targets: a check that survives NDEBUG (the fuzz build is a Release build)
// and reading the fixtures the targets load once at start-up.

#include <QByteArray>
#include <QFile>
#include <QString>

#include <cstdio>
#include <cstdlib>

// A broken promise of the API under test is a bug just like a sanitizer report: abort so that
// libFuzzer saves the input as a crash-* file.
#define FUZZ_CHECK(condition)                                                          \
    do {                                                                               \
        if (!(condition)) {                                                            \
            std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, \
                         #condition);                                                  \
            std::abort();                                                              \
        }                                                                              \
    } while (0)

namespace kvscope::fuzz {

// `relative` is a path inside the source tree. A missing fixture aborts at once: fuzzing on an
// empty tokenizer would run for ten minutes and prove nothing.
inline QByteArray readFixture(const char* relative) {
    const QString path = QStringLiteral(KVSCOPE_SOURCE_DIR "/") + QString::fromUtf8(relative);
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        std::fprintf(stderr, "cannot read fixture %s\n", qPrintable(path));
        std::abort();
    }
    return file.readAll();
}

}  // namespace kvscope::fuzz
