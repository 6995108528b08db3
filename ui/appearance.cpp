#include "appearance.h"

#include "chart_export.h"
#include "theme.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QMenu>
#include <QSettings>
#include <QStyle>

namespace kvscope {
namespace {

const QString kSchemeKey = QStringLiteral("appearance/colorScheme");
// Fusion draws every widget from the palette; some platform styles keep their own colours.
const QString kExplicitStyle = QStringLiteral("Fusion");

void useStyle(const QString& name) {
    if (QApplication::style()->name().compare(name, Qt::CaseInsensitive) != 0)
        QApplication::setStyle(name);
}

}  // namespace

Appearance::Appearance(QObject* parent)
    : QObject(parent),
      systemPalette_(QApplication::palette()),
      systemFont_(QApplication::font()),
      systemStyle_(QApplication::style()->name()) {}

Appearance::~Appearance() {
    theme::setUiScale(1.0);
    useStyle(systemStyle_);
    QApplication::setPalette(systemPalette_);
    QApplication::setFont(systemFont_);
}

QString Appearance::schemeName(ColorScheme scheme) {
    switch (scheme) {
        case ColorScheme::Light:
            return tr("&Light");
        case ColorScheme::Dark:
            return tr("&Dark");
        case ColorScheme::System:
            break;
    }
    return tr("Follow the &System");
}

void Appearance::setColorScheme(ColorScheme scheme) {
    QSettings().setValue(kSchemeKey, int(scheme));
    if (scheme == scheme_) return syncActions();
    scheme_ = scheme;
    apply();
}

void Appearance::setPresentation(bool on) {
    if (on == presentation_) return syncActions();
    presentation_ = on;
    Q_EMIT presentationChanging(on);
    apply();
    Q_EMIT presentationChanged(on);
}

void Appearance::restoreSettings() {
    const int saved = QSettings().value(kSchemeKey, int(ColorScheme::System)).toInt();
    const bool known = saved >= int(ColorScheme::System) && saved <= int(ColorScheme::Dark);
    setColorScheme(known ? ColorScheme(saved) : ColorScheme::System);
}

QPalette Appearance::palette() const {
    const QPalette base = scheme_ == ColorScheme::Light  ? theme::lightPalette()
                          : scheme_ == ColorScheme::Dark ? theme::darkPalette()
                                                         : systemPalette_;
    return presentation_ ? theme::highContrast(base) : base;
}

// The scale first: the charts read it when the font change reaches them.
void Appearance::apply() {
    const double scale = presentation_ ? kPresentationScale : 1.0;
    theme::setUiScale(scale);
    useStyle(scheme_ == ColorScheme::System ? systemStyle_ : kExplicitStyle);
    QApplication::setPalette(palette());
    QApplication::setFont(theme::scaledFont(systemFont_, scale));
    // Qt posts both changes to the windows; the panels, and the docks that presentation mode
    // arranges for the new sizes, need them now.
    for (QEvent::Type t : {QEvent::ApplicationPaletteChange, QEvent::ApplicationFontChange})
        QCoreApplication::sendPostedEvents(nullptr, t);
    syncActions();
    Q_EMIT changed();
}

void Appearance::addMenuEntries(QMenu* view) {
    QMenu* look = view->addMenu(tr("&Appearance"));
    look->setObjectName(QStringLiteral("appearanceMenu"));
    look->setToolTipsVisible(true);
    schemeActions_ = new QActionGroup(look);
    for (ColorScheme s : {ColorScheme::System, ColorScheme::Light, ColorScheme::Dark}) {
        QAction* a = look->addAction(schemeName(s), this, [this, s] { setColorScheme(s); });
        a->setCheckable(true);
        a->setData(int(s));
        schemeActions_->addAction(a);
    }
    look->addSeparator();
    QAction* screen = look->addAction(tr("Export in &Screen Colours"));
    screen->setObjectName(QStringLiteral("exportScreenColors"));
    screen->setCheckable(true);
    screen->setChecked(exportsInScreenColors());
    screen->setToolTip(
        tr("Exported charts in the colours on screen (dark in dark mode); otherwise always on "
           "white, for pages and slides."));
    connect(screen, &QAction::toggled, this, [](bool on) { setExportsInScreenColors(on); });

    presentAction_ = view->addAction(tr("&Presentation Mode"));
    presentAction_->setObjectName(QStringLiteral("presentationMode"));
    presentAction_->setCheckable(true);
    presentAction_->setShortcut(QKeySequence(Qt::Key_F5));
    presentAction_->setStatusTip(
        tr("Larger fonts, lines and markers in high contrast, laid out for a 1280x720 "
           "projector (F5)."));
    connect(presentAction_, &QAction::toggled, this, &Appearance::setPresentation);
    syncActions();
}

void Appearance::syncActions() {
    if (schemeActions_)
        for (QAction* a : schemeActions_->actions())
            a->setChecked(a->data().toInt() == int(scheme_));
    if (presentAction_) presentAction_->setChecked(presentation_);
}

}  // namespace kvscope
