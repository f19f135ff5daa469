package io.vera.operator.facade;

import io.javalin.Javalin;

/** Placeholder until the OpenAPI document lands: serves nothing yet. */
final class ApiDocs {
  private ApiDocs() {}

  static void register(Javalin app) {}
}
