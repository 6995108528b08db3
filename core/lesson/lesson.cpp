#include "lesson/lesson.h"

#include "lesson/lesson_figures.h"
#include "model/model_presets.h"

#include <QFile>
#include <QStringDecoder>
#include <QStringList>

#include <cmath>

// Resources compiled into a static library must be registered by hand.
static void initLessonResource() {
    Q_INIT_RESOURCE(lessons);
}

namespace kvscope {
namespace {

enum class Kind { Int, Double, Bool, Choice };

struct OptionSpec {
    const char* key;
    Kind kind;
    double lo = 0, hi = 0;          // Int, Double: inclusive range
    const char* choices = nullptr;  // Choice: "a|b|c"
};

// How a verb's argument is read: not at all, as free text, or as key=value options.
enum class ArgForm { None, Text, OptionalText, Options };

struct VerbSpec {
    LessonVerb doc;
    ArgForm form;
    std::vector<OptionSpec> options;
};

constexpr double kMaxSeed = 9007199254740991.0;  // 2^53 - 1: exact in a double and in JSON

const std::vector<VerbSpec>& verbSpecs() {
    static const std::vector<VerbSpec> specs = {
        {{"model", "@model embedded:NAME or a path: load it (skipped when it is loaded)"},
         ArgForm::Text,
         {}},
        {{"prompt", "@prompt TEXT: the prompt (\\n a new line, \\\\ a backslash; empty: none)"},
         ArgForm::OptionalText,
         {}},
        {{"set",
          "@set KEY=VALUE ...: mode, focus, temperature, top_k, top_p, min_p, seed, max_tokens, "
          "delay, stop_at_eot"},
         ArgForm::Options,
         {{"mode", Kind::Choice, 0, 0, "naive|cached|compare"},
          {"focus", Kind::Choice, 0, 0, "naive|cached"},
          {"temperature", Kind::Double, 0, 10},
          {"top_k", Kind::Int, 0, 1e6},
          {"top_p", Kind::Double, 0, 1},
          {"min_p", Kind::Double, 0, 1},
          {"seed", Kind::Int, 0, kMaxSeed},
          {"max_tokens", Kind::Int, 1, 1e6},
          {"delay", Kind::Int, 0, 5000},
          {"stop_at_eot", Kind::Bool}}},
        {{"run", "@run: generate with the settings and wait for the run to end"},
         ArgForm::None,
         {}},
        {{"step", "@step [N]: N single steps (1 when left out), from a paused run"},
         ArgForm::Options,
         {{"count", Kind::Int, 1, 10000}}},
        {{"stop", "@stop: end the run (a paused one too)"}, ArgForm::None, {}},
        {{"select", "@select N or last: show step N (0 is the first generated token)"},
         ArgForm::Text,
         {}},
        {{"show", "@show PANEL: raise the panel and outline it (see lessonPanels())"},
         ArgForm::Text,
         {}},
        {{"attention",
          "@attention layer=L head=H|mean recompute=on|off scale=log|linear|rowmax|percentile"},
         ArgForm::Options,
         {{"layer", Kind::Int, 0, 1e4},
          {"head", Kind::Int, -1, 1e4},  // -1 written as "mean"
          {"recompute", Kind::Bool},
          {"scale", Kind::Choice, 0, 0, "log|linear|rowmax|percentile"}}},
        {{"cost", "@cost log=on|off attention=on|off extend=N"},
         ArgForm::Options,
         {{"log", Kind::Bool}, {"attention", Kind::Bool}, {"extend", Kind::Int, 0, 1e6}}},
        {{"whatif", "@whatif model=PRESET|loaded length=N"},
         ArgForm::Options,
         {{"model", Kind::Choice, 0, 0, nullptr}, {"length", Kind::Int, 1, 1e6}}},
        {{"roofs", "@roofs: measure this machine's roofs unless they are known, and wait"},
         ArgForm::None,
         {}},
    };
    return specs;
}

const VerbSpec* findVerb(const QString& name) {
    for (const VerbSpec& v : verbSpecs())
        if (name == QLatin1String(v.doc.name)) return &v;
    return nullptr;
}

// Thrown inside the parser with the line it concerns; parseLesson adds the file.
struct ParseError {
    int line;
    QString message;
};

[[noreturn]] void fail(int line, const QString& message) {
    throw ParseError{line, message};
}

QString unescape(const QString& s, int line) {
    QString out;
    for (qsizetype i = 0; i < s.size(); ++i) {
        if (s[i] != QLatin1Char('\\')) {
            out += s[i];
            continue;
        }
        if (++i == s.size()) fail(line, QStringLiteral("a backslash ends the line"));
        const QChar c = s[i];
        if (c == QLatin1Char('n'))
            out += QLatin1Char('\n');
        else if (c == QLatin1Char('t'))
            out += QLatin1Char('\t');
        else if (c == QLatin1Char('\\'))
            out += QLatin1Char('\\');
        else
            fail(line, QStringLiteral("unknown escape \\%1 (expected \\n, \\t or \\\\)").arg(c));
    }
    return out;
}

QStringList choicesOf(const OptionSpec& o) {
    if (o.choices) return QString::fromLatin1(o.choices).split(QLatin1Char('|'));
    QStringList keys{QStringLiteral("loaded")};  // whatif model=: the presets
    for (const ModelPreset& p : modelPresets()) keys << QLatin1String(p.key);
    return keys;
}

QVariant optionValue(const VerbSpec& verb, const OptionSpec& o, QString value, int line) {
    const QString where =
        QStringLiteral("@%1 %2=").arg(QLatin1String(verb.doc.name), QLatin1String(o.key));
    if (o.kind == Kind::Choice) {
        const QStringList choices = choicesOf(o);
        if (!choices.contains(value))
            fail(line, QStringLiteral("%1: expected one of %2, found \"%3\"")
                           .arg(where, choices.join(QStringLiteral(", ")), value));
        return value;
    }
    if (o.kind == Kind::Bool) {
        if (value == QLatin1String("on") || value == QLatin1String("true")) return true;
        if (value == QLatin1String("off") || value == QLatin1String("false")) return false;
        fail(line, QStringLiteral("%1: expected on or off, found \"%2\"").arg(where, value));
    }
    if (verb.doc.name == QLatin1String("attention") && value == QLatin1String("mean"))
        value = QStringLiteral("-1");
    bool ok = false;
    const double v = o.kind == Kind::Int ? double(value.toLongLong(&ok)) : value.toDouble(&ok);
    if (!ok || !std::isfinite(v) || v < o.lo || v > o.hi)
        fail(line,
             QStringLiteral("%1: expected %2 from %3 to %4, found \"%5\"")
                 .arg(where, QLatin1String(o.kind == Kind::Int ? "a whole number" : "a number"))
                 .arg(o.lo, 0, 'g', 16)
                 .arg(o.hi, 0, 'g', 16)
                 .arg(value));
    return o.kind == Kind::Int ? QVariant(value.toLongLong()) : QVariant(v);
}

void readOptions(const VerbSpec& verb, const QString& args, LessonAction& a) {
    const QStringList words = args.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (verb.doc.name == QLatin1String("step")) {  // "@step 3": the one option, unnamed
        if (words.size() > 1) fail(a.line, QStringLiteral("@step takes one number"));
        if (!words.isEmpty())
            a.options["count"] = optionValue(verb, verb.options.front(), words.front(), a.line);
        return;
    }
    if (words.isEmpty())
        fail(a.line, QStringLiteral("@%1 needs KEY=VALUE options: %2")
                         .arg(QLatin1String(verb.doc.name), QLatin1String(verb.doc.syntax)));
    for (const QString& w : words) {
        const qsizetype eq = w.indexOf(QLatin1Char('='));
        const QString key = w.left(eq);
        const OptionSpec* spec = nullptr;
        for (const OptionSpec& o : verb.options)
            if (key == QLatin1String(o.key)) spec = &o;
        if (eq <= 0 || !spec)
            fail(a.line, QStringLiteral("@%1: \"%2\" is not KEY=VALUE with a known key (%3)")
                             .arg(QLatin1String(verb.doc.name), w, QLatin1String(verb.doc.syntax)));
        if (a.options.count(key))
            fail(a.line,
                 QStringLiteral("@%1: %2 is given twice").arg(QLatin1String(verb.doc.name), key));
        a.options[key] = optionValue(verb, *spec, w.mid(eq + 1), a.line);
    }
}

// What a text argument must be for the verbs that take one.
void checkText(LessonAction& a) {
    if (a.verb == QLatin1String("select")) {
        bool ok = false;
        const int n = a.text.toInt(&ok);
        if (a.text != QLatin1String("last") && (!ok || n < 0))
            fail(a.line, QStringLiteral("@select: expected a step number (0 or more) or last, "
                                        "found \"%1\"")
                             .arg(a.text));
        a.options["step"] = ok ? n : -1;
    } else if (a.verb == QLatin1String("show")) {
        const auto& panels = lessonPanels();
        if (std::find(panels.begin(), panels.end(), a.text) == panels.end())
            fail(a.line,
                 QStringLiteral("@show: unknown panel \"%1\"; the panels are: %2")
                     .arg(a.text,
                          QStringList(panels.begin(), panels.end()).join(QStringLiteral(", "))));
    }
}

LessonAction parseAction(const QString& line, int number) {
    const QString body = line.mid(1);
    const qsizetype space = body.indexOf(QLatin1Char(' '));
    LessonAction a;
    a.line = number;
    a.verb = body.left(space);
    const QString rest = space < 0 ? QString() : body.mid(space + 1);
    const VerbSpec* verb = findVerb(a.verb);
    if (!verb) {
        QStringList names;
        for (const VerbSpec& v : verbSpecs()) names << QLatin1Char('@') + QLatin1String(v.doc.name);
        fail(number, QStringLiteral("unknown action \"@%1\"; the actions are: %2")
                         .arg(a.verb, names.join(QStringLiteral(", "))));
    }
    switch (verb->form) {
        case ArgForm::None:
            if (!rest.trimmed().isEmpty())
                fail(number,
                     QStringLiteral("@%1 takes no argument, found \"%2\"").arg(a.verb, rest));
            break;
        case ArgForm::Options:
            readOptions(*verb, rest, a);
            break;
        case ArgForm::Text:
            if (rest.trimmed().isEmpty())
                fail(number, QStringLiteral("@%1 needs an argument: %2")
                                 .arg(a.verb, QLatin1String(verb->doc.syntax)));
            a.text = rest.trimmed();
            checkText(a);
            break;
        case ArgForm::OptionalText:
            a.text = unescape(rest, number);
            break;
    }
    return a;
}

// Splits narration into Markdown and {figure} / {figure:arg} pieces; {{ and }} are braces.
void parseText(const QString& line, int number, std::vector<LessonText>& out) {
    QString literal;
    for (qsizetype i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        const bool doubled = i + 1 < line.size() && line[i + 1] == c;
        if ((c == QLatin1Char('{') || c == QLatin1Char('}')) && doubled) {
            literal += c;
            ++i;
            continue;
        }
        if (c == QLatin1Char('}'))
            fail(number,
                 QStringLiteral("column %1: a } without its { (write }} for a brace)").arg(i + 1));
        if (c != QLatin1Char('{')) {
            literal += c;
            continue;
        }
        const qsizetype end = line.indexOf(QLatin1Char('}'), i);
        if (end < 0)
            fail(number,
                 QStringLiteral("column %1: a { without its } (write {{ for a brace)").arg(i + 1));
        const QString inside = line.mid(i + 1, end - i - 1);
        const qsizetype colon = inside.indexOf(QLatin1Char(':'));
        LessonText figure;
        figure.figure = inside.left(colon).trimmed();
        figure.arg = colon < 0 ? QString() : inside.mid(colon + 1).trimmed();
        if (auto wrong = checkFigure(figure.figure, figure.arg))
            fail(number, QStringLiteral("column %1: %2").arg(i + 1).arg(*wrong));
        if (!literal.isEmpty()) out.push_back({literal, {}, {}});
        literal.clear();
        out.push_back(figure);
        i = end;
    }
    out.push_back({literal + QLatin1Char('\n'), {}, {}});
}

class Parser {
public:
    explicit Parser(Lesson& lesson) : lesson_(lesson) {}

    void line(const QString& text, int number) {
        if (text.startsWith(QLatin1String("```"))) fenced_ = !fenced_;
        if (fenced_ || text.startsWith(QLatin1String("```"))) return narration(text, number);
        if (text.startsWith(QLatin1String("### "))) return step(text.mid(4).trimmed(), number);
        if (text.startsWith(QLatin1String("## "))) return chapter(text.mid(3).trimmed(), number);
        if (text.startsWith(QLatin1String("# "))) return title(text.mid(2).trimmed(), number);
        if (text.startsWith(QLatin1Char('@'))) {
            if (lesson_.steps.empty()) fail(number, QStringLiteral("an action before any step"));
            lesson_.steps.back().actions.push_back(parseAction(text, number));
            return;
        }
        // "\@" at the start of a line is a literal @ in the narration.
        narration(text.startsWith(QLatin1String("\\@")) ? text.mid(1) : text, number);
    }

    void finish(int lines) {
        if (fenced_) fail(lines, QStringLiteral("a ``` code block is not closed"));
        if (lesson_.title.isEmpty()) fail(1, QStringLiteral("no title: start with \"# Title\""));
        if (lesson_.steps.empty())
            fail(lines, QStringLiteral("no steps: a step starts with \"### Step title\""));
    }

private:
    void title(const QString& t, int number) {
        if (!lesson_.title.isEmpty() || !lesson_.chapters.empty())
            fail(number, QStringLiteral("a second \"# \" title: chapters are \"## \", steps "
                                        "\"### \""));
        if (t.isEmpty()) fail(number, QStringLiteral("an empty title"));
        lesson_.title = t;
    }
    void chapter(const QString& t, int number) {
        if (lesson_.title.isEmpty())
            fail(number, QStringLiteral("a chapter before the \"# \" title"));
        if (t.isEmpty()) fail(number, QStringLiteral("an empty chapter title"));
        lesson_.chapters.push_back(t);
    }
    void step(const QString& t, int number) {
        if (lesson_.chapters.empty())
            fail(number, QStringLiteral("a step before any \"## \" chapter"));
        if (t.isEmpty()) fail(number, QStringLiteral("an empty step title"));
        if (lesson_.steps.size() >= 1000) fail(number, QStringLiteral("more than 1000 steps"));
        LessonStep s;
        s.line = number;
        s.chapter = int(lesson_.chapters.size()) - 1;
        s.title = t;
        lesson_.steps.push_back(std::move(s));
    }
    void narration(const QString& text, int number) {
        if (lesson_.steps.empty()) {
            if (text.trimmed().isEmpty()) return;
            fail(number, QStringLiteral("text outside a step: a step starts with \"### Title\""));
        }
        auto& out = lesson_.steps.back().text;
        if (fenced_ || text.startsWith(QLatin1String("```")))
            out.push_back({text + QLatin1Char('\n'), {}, {}});  // code stays as written
        else
            parseText(text, number, out);
    }

    Lesson& lesson_;
    bool fenced_ = false;
};

}  // namespace

const std::vector<LessonVerb>& lessonVerbs() {
    static const std::vector<LessonVerb> verbs = [] {
        std::vector<LessonVerb> out;
        for (const VerbSpec& v : verbSpecs()) out.push_back(v.doc);
        return out;
    }();
    return verbs;
}

const std::vector<QString>& lessonCostTabs() {
    static const std::vector<QString> tabs = {
        QStringLiteral("flops_per_step"), QStringLiteral("cumulative"), QStringLiteral("breakdown"),
        QStringLiteral("time"),           QStringLiteral("memory"),     QStringLiteral("roofline")};
    return tabs;
}

const std::vector<QString>& lessonPanels() {
    static const std::vector<QString> panels = [] {
        std::vector<QString> out = {QStringLiteral("controls"),     QStringLiteral("tokens"),
                                    QStringLiteral("distribution"), QStringLiteral("attention"),
                                    QStringLiteral("cost"),         QStringLiteral("whatif"),
                                    QStringLiteral("lesson")};
        for (const QString& t : lessonCostTabs()) out.push_back(QStringLiteral("cost:") + t);
        return out;
    }();
    return panels;
}

Result<Lesson> parseLesson(const QByteArray& bytes, const QString& file) {
    if (bytes.size() > kMaxLessonBytes)
        return Error{QStringLiteral("%1: %2 bytes; a lesson file may hold at most %3")
                         .arg(file)
                         .arg(bytes.size())
                         .arg(kMaxLessonBytes)};
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = utf8(bytes);
    if (utf8.hasError()) {
        const int line = int(bytes.count('\n')) + 1;  // the decoder does not say where
        int bad = 1;
        for (const QByteArray& l : bytes.split('\n')) {
            QStringDecoder d(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
            const QString decoded = d(l);  // the decoder only decodes when asked for the string
            if (d.hasError()) break;
            ++bad;
        }
        return Error{QStringLiteral("%1: line %2: not UTF-8 text (a lesson is a Markdown file)")
                         .arg(file)
                         .arg(std::min(bad, line))};
    }
    Lesson lesson;
    lesson.file = file;
    Parser parser(lesson);
    const QStringList lines = text.split(QLatin1Char('\n'));
    try {
        for (int i = 0; i < lines.size(); ++i) {
            QString l = lines[i];
            if (l.endsWith(QLatin1Char('\r'))) l.chop(1);
            parser.line(l, i + 1);
        }
        parser.finish(int(lines.size()));
    } catch (const ParseError& e) {
        return Error{QStringLiteral("%1: line %2: %3").arg(file).arg(e.line).arg(e.message)};
    }
    return lesson;
}

Result<Lesson> loadLesson(const QString& path) {
    initLessonResource();
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error{QStringLiteral("%1: cannot read the lesson: %2").arg(path, f.errorString())};
    const QByteArray bytes = f.read(kMaxLessonBytes + 1);
    return parseLesson(bytes, path);
}

QString builtInLessonPath() {
    return QStringLiteral(":/kvscope/lessons/kv_cache.md");
}

}  // namespace kvscope
