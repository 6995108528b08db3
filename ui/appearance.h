#pragma once
// The app's look: its colour scheme (the system's, or light or dark whatever the system says) and
// presentation mode (every font, line and marker larger, in high contrast, for a projector). One
// object applies both to the whole application, builds their View menu entries and remembers the
// scheme; panels follow through Qt's palette and font change events, the charts through
// charts::followAppearance.
//
// Qt 6.4 cannot ask the platform for its colour scheme (QStyleHints::colorScheme is 6.5), so
// System is the palette and style the application had when this object was made.

#include <QFont>
#include <QObject>
#include <QPalette>
#include <QString>

class QAction;
class QActionGroup;
class QMenu;

namespace kvscope {

enum class ColorScheme { System, Light, Dark };

class Appearance : public QObject {
    Q_OBJECT
public:
    // Fonts, lines and markers in presentation mode, relative to normal.
    static constexpr double kPresentationScale = 1.5;

    // Takes the application's palette, font and style as they are now for the System look.
    explicit Appearance(QObject* parent = nullptr);
    // Puts the start-up look back: the next window starts from it.
    ~Appearance() override;

    ColorScheme colorScheme() const { return scheme_; }
    bool presentation() const { return presentation_; }
    // Remembered in QSettings.
    void setColorScheme(ColorScheme scheme);
    // Not remembered: a projector's setting would make the next start on a laptop unreadable
    // (--present starts in it).
    void setPresentation(bool on);
    // The scheme chosen last time (System before any choice).
    void restoreSettings();

    // View > Appearance (System, Light, Dark, Export in Screen Colours) and View > Presentation
    // Mode, checked as the state is.
    void addMenuEntries(QMenu* view);

    // What the View menu calls the schemes.
    static QString schemeName(ColorScheme scheme);

Q_SIGNALS:
    void changed();
    // Before the look changes (presentation() already says `on`) and after: a window shrinks its
    // layout before the fonts grow, and grows it back after they have shrunk, never passing
    // through a layout wider than the screen.
    void presentationChanging(bool on);
    void presentationChanged(bool on);

private:
    void apply();
    QPalette palette() const;
    void syncActions();

    QPalette systemPalette_;
    QFont systemFont_;
    QString systemStyle_;
    ColorScheme scheme_ = ColorScheme::System;
    bool presentation_ = false;
    QActionGroup* schemeActions_ = nullptr;
    QAction* presentAction_ = nullptr;
};

}  // namespace kvscope
