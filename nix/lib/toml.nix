# TOML text from a Nix attribute set, with builtins only, so the modules evaluate without nixpkgs.
# Values: strings, booleans, integers, floats, lists of those, and nested attribute sets (tables).
# Scalars come before tables at every level; null values are left out.
let
  inherit (builtins) attrNames concatStringsSep filter isAttrs isBool isFloat isInt isList isString
    map match toJSON;

  key = name: if match "[A-Za-z0-9_-]+" name != null then name else toJSON name;

  value = path: v:
    if isBool v then (if v then "true" else "false")
    else if isInt v || isFloat v then toJSON v
    # A JSON string literal is also a TOML basic string: same quotes and escapes.
    else if isString v then toJSON v
    else if isList v then "[" + concatStringsSep ", " (map (value path) v) + "]"
    else throw "toml: ${path}: a ${builtins.typeOf v} cannot be written as a TOML value";

  table = prefix: attrs:
    let
      names = filter (n: attrs.${n} != null) (attrNames attrs);
      scalars = filter (n: !isAttrs attrs.${n}) names;
      tables = filter (n: isAttrs attrs.${n}) names;
      path = n: if prefix == "" then key n else "${prefix}.${key n}";
      scalarLines = map (n: "${key n} = ${value (path n) attrs.${n}}\n") scalars;
      subTable = n:
        let body = table (path n) attrs.${n};
        in if body.scalars == "" && body.tables == "" then ""
           else "\n[${path n}]\n" + body.scalars + body.tables;
    in {
      scalars = concatStringsSep "" scalarLines;
      tables = concatStringsSep "" (map subTable tables);
    };
in
attrs: let t = table "" attrs; in t.scalars + t.tables
