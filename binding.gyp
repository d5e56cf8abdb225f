{
  "targets": [
    {
      "target_name": "secrets_store_mount",
      "sources": ["native/mount.c"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
