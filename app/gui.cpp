#include "gui.h"

#include "main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QSettings>

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
        {QStringLiteral("model"), QStringLiteral("Model folder to open."), QStringLiteral("DIR")});
    parser.addOption(
        {QStringLiteral("prompt"), QStringLiteral("Initial prompt."), QStringLiteral("TEXT")});
    parser.process(app);

    MainWindow window;
    if (parser.isSet(QStringLiteral("prompt")))
        window.controls()->setPrompt(parser.value(QStringLiteral("prompt")));
    QString model = parser.value(QStringLiteral("model"));
    if (model.isEmpty())
        model = QSettings().value(QStringLiteral("recentModels")).toStringList().value(0);
    if (!model.isEmpty()) window.openModel(model);
    window.show();
    return app.exec();
}

}  // namespace kvscope
