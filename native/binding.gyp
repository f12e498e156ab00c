{
  "targets": [
    {
      "target_name": "tendril_bpf",
      "sources": ["src/addon.cc", "src/object.cc", "src/ringbuf.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=gnu++17", "-Wall"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS"]
    }
  ]
}
