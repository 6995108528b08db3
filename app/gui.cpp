#include "gui.h"

#include "main_window.h"
#include "model/embedded_model.h"
#include "roofs_probe.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QStatusBar>

#include <cstdio>

namespace kvscope {

int runGui(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("kvscope"));
    QApplication::setOrganizationName(QStringLiteral("kvscope"));
    QApplication::setApplicationVersion(QStringLiteral(KVSCOPE_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("kvscope"));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/kvscope/icon.svg")));
    registerMetaTypes();

    QCommandLineParser parser;
    parser.addOption(
        {QStringLiteral("model"),
         QStringLiteral("Model folder or file to open (GPT-2 folder, model.safetensors, llama2.c "
                        "checkpoint, GGUF file), or a model inside kvscope, one of: %1.")
             .arg(embeddedModelsHelp()),
         QStringLiteral("PATH")});
    parser.addOption({QStringLiteral("tokenizer"),
                      QStringLiteral("The tokenizer.bin of a llama2.c checkpoint, when it is not "
                                     "beside it."),
                      QStringLiteral("FILE")});
    parser.addOption(
        {QStringLiteral("prompt"), QStringLiteral("Initial prompt."), QStringLiteral("TEXT")});
    parser.addOption({QStringLiteral("present"), QStringLiteral("Start in presentation mode.")});
    parser.addOption({QStringLiteral("lesson"),
                      QStringLiteral("Start the guided lesson: the built-in one, or the lesson "
                                     "FILE given after the options (docs/LESSONS.md).")});
    parser.addPositionalArgument(QStringLiteral("FILE"),
                                 QStringLiteral("With --lesson: a lesson file (Markdown)."),
                                 QStringLiteral("[FILE]"));
    parser.process(app);

    MainWindow window;
    if (parser.isSet(QStringLiteral("prompt")))
        window.controls()->setPrompt(parser.value(QStringLiteral("prompt")));
    if (parser.isSet(QStringLiteral("model"))) {
        window.openModel(parser.value(QStringLiteral("model")),
                         parser.value(QStringLiteral("tokenizer")));
    } else if (auto embedded = loadEmbeddedModel()) {
        window.setModel(embedded.value());
    } else {
        window.statusBar()->showMessage(embedded.errorMessage());
    }
    window.setPresentationMode(parser.isSet(QStringLiteral("present")));
    window.show();
    window.roofs()->measureIfUnknown();  // in the background, once per machine
    if (parser.isSet(QStringLiteral("lesson"))) {
        const QStringList files = parser.positionalArguments();
        if (auto r = window.openLesson(files.value(0)); !r) {
            std::fprintf(stderr, "kvscope: %s\n", qPrintable(r.errorMessage()));
            window.statusBar()->showMessage(r.errorMessage());
        }
    }
    return app.exec();
}

}  // namespace kvscope
