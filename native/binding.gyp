{
  "targets": [
    {
      "target_name": "tollgate_native",
      "sources": ["src/addon.cc", "src/json_scan.cc", "src/text_tokens.cc", "src/sse_scan.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O3", "-fno-exceptions"]
    }
  ]
}
