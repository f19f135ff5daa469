package io.vera.operator.facade.legacy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.facade.JsonBody;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Written field by field, a response has the very bytes its tree used to be serialised to, down to
 * characters outside the basic plane and a lone surrogate (which UTF-8 encoding turns into '?').
 */
class JsonWriteTest {
  private static final String[] TEXTS = {
    "plain",
    "quote \" backslash \\ slash / tab \t newline \n bell \u0007",
    "café, naïve, Ελληνικά, 日本語",
    "emoji 😀 and 𝄞 outside the basic plane",
    "a lone \ud83d surrogate",
    "",
  };

  @Test
  void writesWhatTheTreeWould() throws Exception {
    for (String text : TEXTS) {
      ObjectNode tree = JsonBody.MAPPER.createObjectNode();
      tree.put("chunk", text);
      tree.put("tokens", 12L);
      tree.put("cost_usd", 4.2e-6);
      tree.put("latency_ms", 201.3);
      tree.putNull("none");
      tree.put("priced", true);
      tree.set("result", JsonBody.MAPPER.createObjectNode().put("text", text));
      byte[] written =
          JsonWrite.object(
              json -> {
                json.writeStringField("chunk", text);
                json.writeNumberField("tokens", 12L);
                json.writeNumberField("cost_usd", 4.2e-6);
                json.writeNumberField("latency_ms", 201.3);
                json.writeNullField("none");
                json.writeBooleanField("priced", true);
                json.writeFieldName("result");
                json.writeTree(JsonBody.MAPPER.createObjectNode().put("text", text));
              });
      assertThat(written).isEqualTo(tree.toString().getBytes(StandardCharsets.UTF_8));
    }
  }

  @Test
  void eventsAreServerSentEventDataLines() {
    byte[] event = JsonWrite.event(json -> json.writeStringField("chunk", "A 😀"));
    assertThat(new String(event, StandardCharsets.UTF_8))
        .isEqualTo("data: {\"chunk\":\"A 😀\"}\n\n");
  }
}
