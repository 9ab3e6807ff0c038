package fhirevidence.interop;

import java.io.PrintStream;

/**
 * Runs the scenario's steps one after the other and prints one JSON line per step:
 * {"step": name, "ok": true|false, "detail": text}. A step fails by throwing; the next steps
 * still run (they may fail in turn when they needed what the failed one made).
 */
final class StepReporter {
  /** A step's body: returns a short description of what it saw. */
  interface Step {
    String run() throws Exception;
  }

  /** Thrown by {@link #check} when a step sees something it did not expect. */
  static final class CheckFailed extends Exception {
    CheckFailed(String message) {
      super(message);
    }
  }

  private final PrintStream out;
  private int failures;

  StepReporter(PrintStream out) {
    this.out = out;
  }

  static void check(boolean condition, String whatWasExpected) throws CheckFailed {
    if (!condition) {
      throw new CheckFailed(whatWasExpected);
    }
  }

  void run(String name, Step step) {
    boolean ok;
    String detail;
    try {
      detail = step.run();
      ok = true;
    } catch (CheckFailed failed) {
      ok = false;
      detail = "check failed: " + failed.getMessage();
    } catch (Exception | LinkageError unexpected) {
      ok = false;
      detail = unexpected.getClass().getName() + ": " + unexpected.getMessage();
    }
    if (!ok) {
      failures++;
    }
    out.println("{\"step\": " + quote(name) + ", \"ok\": " + ok + ", \"detail\": " + quote(detail) + "}");
    out.flush();
  }

  int failures() {
    return failures;
  }

  /** A JSON string literal (RFC 8259 escapes). */
  static String quote(String text) {
    if (text == null) {
      return "null";
    }
    StringBuilder json = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        case '\n' -> json.append("\\n");
        case '\r' -> json.append("\\r");
        case '\t' -> json.append("\\t");
        default -> {
          if (c < 0x20) {
            json.append(String.format("\\u%04x", (int) c));
          } else {
            json.append(c);
          }
        }
      }
    }
    return json.append('"').toString();
  }
}
