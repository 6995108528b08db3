#include "roofs_probe.h"

#include <QSettings>
#include <QThread>

#include <memory>

namespace kvscope {

RoofsProbe::RoofsProbe(QObject* parent) : QObject(parent), roofs_(rememberedRoofs(QSettings())) {}

RoofsProbe::~RoofsProbe() {
    if (!probe_) return;
    probe_->disconnect(this);
    probe_->wait();  // well under a second of work
    delete probe_;
}

void RoofsProbe::setRoofs(const std::optional<MachineRoofs>& roofs) {
    roofs_ = roofs;
    Q_EMIT changed();
}

void RoofsProbe::measureIfUnknown() {
    if (!roofs_) measure();
}

void RoofsProbe::measure() {
    if (probe_) return;
    // The thread writes the result, the GUI thread reads it after `finished`: never both at once.
    auto result = std::make_shared<MachineRoofs>();
    probe_ = QThread::create([result] { *result = measureMachineRoofs(); });
    connect(probe_, &QThread::finished, this, [this, result] {
        probe_->deleteLater();
        probe_ = nullptr;
        QSettings settings;
        rememberRoofs(settings, *result);
        roofs_ = *result;
        Q_EMIT changed();
        Q_EMIT measured();
    });
    // Low priority: a training job or a run on the same cores comes first.
    probe_->start(QThread::LowPriority);
    Q_EMIT changed();
}

}  // namespace kvscope
