package io.vera.operator.facade;

import io.javalin.Javalin;
import io.javalin.http.ContentType;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Serves the hand-written OpenAPI document of the legacy API and a Swagger UI built from the
 * swagger-ui webjar, so the API can be browsed with no network access.
 */
public final class ApiDocs {
  /** Where the OpenAPI document is served. */
  public static final String DOCUMENT_PATH = "/openapi.json";

  /** Where the Swagger UI page is served. */
  public static final String UI_PATH = "/docs";

  /** Prefix of the Swagger UI's scripts, styles and icons. */
  public static final String ASSETS_PATH = "/docs/assets/";

  private static final String DOCUMENT_RESOURCE = "openapi/vera-openapi.json";
  private static final String WEBJAR_PROPERTIES =
      "META-INF/maven/org.webjars/swagger-ui/pom.properties";
  private static final String WEBJAR_ROOT = "META-INF/resources/webjars/swagger-ui/";

  /** Flat file names only: no separators, no leading dot, so nothing outside the webjar leaks. */
  private static final Pattern ASSET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

  private static final String UI_PAGE =
      """
      <!DOCTYPE html>
      <html lang="en">
      <head>
        <meta charset="UTF-8">
        <title>Vera Orchestration API</title>
        <link rel="stylesheet" type="text/css" href="/docs/assets/swagger-ui.css">
        <link rel="stylesheet" type="text/css" href="/docs/assets/index.css">
        <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
        <link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
      </head>
      <body>
        <div id="swagger-ui"></div>
        <script src="/docs/assets/swagger-ui-bundle.js" charset="UTF-8"></script>
        <script src="/docs/assets/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
        <script>
          window.onload = function () {
            window.ui = SwaggerUIBundle({
              url: "/openapi.json",
              dom_id: "#swagger-ui",
              deepLinking: true,
              validatorUrl: null,
              presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
              plugins: [SwaggerUIBundle.plugins.DownloadUrl],
              layout: "StandaloneLayout"
            });
          };
        </script>
      </body>
      </html>
      """;

  private ApiDocs() {}

  /**
   * Adds {@code GET /openapi.json}, {@code GET /docs} and {@code GET /docs/assets/{file}} to the
   * app.
   *
   * @throws IllegalStateException if the document or the swagger-ui webjar is not on the classpath
   */
  public static void register(Javalin app) {
    ClassLoader loader = ApiDocs.class.getClassLoader();
    byte[] document = readResource(loader, DOCUMENT_RESOURCE);
    String assetRoot = WEBJAR_ROOT + swaggerUiVersion(loader) + "/";
    if (loader.getResource(assetRoot + "swagger-ui-bundle.js") == null) {
      throw new IllegalStateException(
          "The swagger-ui webjar has no " + assetRoot + "swagger-ui-bundle.js");
    }
    app.get(DOCUMENT_PATH, ctx -> ctx.contentType(ContentType.APPLICATION_JSON).result(document));
    app.get(UI_PATH, ctx -> ctx.html(UI_PAGE));
    app.get(ASSETS_PATH + "{file}", ctx -> serveAsset(ctx, loader, assetRoot));
  }

  private static void serveAsset(Context ctx, ClassLoader loader, String assetRoot)
      throws IOException {
    String name = ctx.pathParam("file");
    InputStream asset =
        ASSET_NAME.matcher(name).matches() ? loader.getResourceAsStream(assetRoot + name) : null;
    if (asset == null) {
      ctx.status(HttpStatus.NOT_FOUND)
          .json(Map.of("detail", "No Swagger UI asset named '" + name + "'"));
      return;
    }
    byte[] body;
    try (asset) {
      body = asset.readAllBytes();
    }
    String extension = name.substring(name.lastIndexOf('.') + 1);
    String mimeType = ContentType.getMimeTypeByExtension(extension);
    ctx.contentType(mimeType != null ? mimeType : ContentType.OCTET_STREAM)
        .header("Cache-Control", "public, max-age=3600")
        .result(body);
  }

  private static String swaggerUiVersion(ClassLoader loader) {
    Properties properties = new Properties();
    try (InputStream in = loader.getResourceAsStream(WEBJAR_PROPERTIES)) {
      if (in == null) {
        throw new IllegalStateException(
            "The org.webjars:swagger-ui jar is not on the classpath (no "
                + WEBJAR_PROPERTIES
                + ")");
      }
      properties.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + WEBJAR_PROPERTIES, e);
    }
    String version = properties.getProperty("version");
    if (version == null || version.isBlank()) {
      throw new IllegalStateException(WEBJAR_PROPERTIES + " has no version property");
    }
    return version.trim();
  }

  private static byte[] readResource(ClassLoader loader, String resource) {
    try (InputStream in = loader.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("Classpath resource not found: " + resource);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read classpath resource " + resource, e);
    }
  }
}
