#!/usr/bin/env node
console.log("schema-engine-wasm placeholder");
