#pragma once
// Error values for parsing and loading: internals may throw LoadError with context, the loader's
// boundary turns it into a Result so nothing above the core ever sees an exception.

#include <QString>

#include <stdexcept>
#include <utility>
#include <variant>

namespace kvscope {

struct Error {
    QString message;  // names the file, the field, what was expected and what was found
};

// Thrown inside parsers; caught at the public load functions and returned as Error.
class LoadError : public std::runtime_error {
public:
    explicit LoadError(const QString& message) : std::runtime_error(message.toStdString()) {}
    QString message() const { return QString::fromStdString(what()); }
};

template <typename T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<T>(v_); }
    const T& value() const { return std::get<T>(v_); }
    T&& take() { return std::get<T>(std::move(v_)); }
    const Error& error() const { return std::get<Error>(v_); }
    QString errorMessage() const { return ok() ? QString() : error().message; }

private:
    std::variant<T, Error> v_;
};

}  // namespace kvscope
