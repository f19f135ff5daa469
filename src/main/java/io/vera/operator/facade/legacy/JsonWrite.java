package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.core.JsonGenerator;
import io.vera.operator.facade.JsonBody;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * A JSON object written field by field, for responses on a hot path: no tree is built and then
 * copied. The bytes are exactly those of the same object written as a tree by {@link
 * JsonBody#MAPPER} and encoded as UTF-8, as Javalin does (Jackson's own UTF-8 writer differs for
 * characters outside the basic plane and mangles a lone surrogate, so text is encoded afterwards).
 */
final class JsonWrite {
  /** Writes an object's fields. */
  @FunctionalInterface
  interface Fields {
    void write(JsonGenerator json) throws IOException;
  }

  private JsonWrite() {}

  /** One JSON object. */
  static byte[] object(Fields fields) {
    return text(fields).getBytes(StandardCharsets.UTF_8);
  }

  /** One Server-Sent Event whose data is a JSON object: {@code data: {...}\n\n}. */
  static byte[] event(Fields fields) {
    return ("data: " + text(fields) + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  private static String text(Fields fields) {
    StringWriter text = new StringWriter(256);
    try (JsonGenerator json = JsonBody.MAPPER.createGenerator(text)) {
      json.writeStartObject();
      fields.write(json);
      json.writeEndObject();
    } catch (IOException e) {
      // Only a field writer's own failure can get here: a StringWriter does not fail.
      throw new UncheckedIOException(e);
    }
    return text.toString();
  }
}
