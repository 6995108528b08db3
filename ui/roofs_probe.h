#pragma once
// This machine's roofs as the window knows them: what QSettings remembers, or what the short
// probe (core/cost/machine_probe.h, about a second of reading and multiplying) measures on a
// thread of its own, never the GUI thread, at start-up when nothing is remembered or when the
// user asks. One per window: the what-if dock and the roofline chart read it, and neither
// measures on its own.

#include "cost/machine_probe.h"

#include <QObject>

#include <optional>

class QThread;

namespace kvscope {

class RoofsProbe : public QObject {
    Q_OBJECT
public:
    explicit RoofsProbe(QObject* parent = nullptr);  // starts with the remembered roofs
    ~RoofsProbe() override;                          // waits for a probe still running

    std::optional<MachineRoofs> roofs() const { return roofs_; }
    // Roofs from elsewhere (a test, a run measured by the command line): shown, not remembered.
    void setRoofs(const std::optional<MachineRoofs>& roofs);

    // Measures in the background and remembers the result; a second call while one runs waits
    // for that one.
    void measure();
    void measureIfUnknown();
    bool isMeasuring() const { return probe_ != nullptr; }

Q_SIGNALS:
    // The roofs changed, or a probe started or ended.
    void changed();
    // A probe finished (after changed()).
    void measured();

private:
    std::optional<MachineRoofs> roofs_;
    QThread* probe_ = nullptr;
};

}  // namespace kvscope
