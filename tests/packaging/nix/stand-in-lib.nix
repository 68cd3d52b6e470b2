# A small stand-in for nixpkgs' `lib`: only what nix/modules use, with the same names and meanings,
# so the modules evaluate under plain `nix-instantiate` (no nixpkgs here). Types check values the way
# nixpkgs' do, and wrappers (mkIf, mkMerge, mkDefault) keep their shape for eval-module.nix to resolve.
let
  inherit (builtins) all attrNames elem foldl' isAttrs isBool isFloat isInt isList isString;
  type = name: check: { _type = "option-type"; inherit name check; };
in
rec {
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: mkOption {
    type = types.bool;
    default = false;
    description = "Whether to enable ${name}.";
  };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
  literalExpression = text: { _type = "literalExpression"; inherit text; };

  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  toList = x: if isList x then x else [ x ];
  unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];

  recursiveUpdate = lhs: rhs:
    lhs // builtins.mapAttrs
      (n: v: if lhs ? ${n} && isAttrs lhs.${n} && isAttrs v then recursiveUpdate lhs.${n} v else v)
      rhs;

  platforms = {
    linux = [ "x86_64-linux" "aarch64-linux" ];
    darwin = [ "x86_64-darwin" "aarch64-darwin" ];
  };

  types = rec {
    bool = type "boolean" isBool;
    str = type "string" isString;
    attrs = type "attribute set" isAttrs;
    package = type "package" (v: isAttrs v && v ? outPath || isString v);
    nullOr = t: type "null or ${t.name}" (v: v == null || t.check v);
    listOf = t: type "list of ${t.name}" (v: isList v && all t.check v);
    nonEmptyListOf = t: type "non-empty list of ${t.name}" (v: isList v && v != [ ] && all t.check v);
    either = a: b: type "${a.name} or ${b.name}" (v: a.check v || b.check v);
    numbers.positive = type "positive number" (v: (isInt v || isFloat v) && v > 0);
    ints.positive = type "positive integer" (v: isInt v && v > 0);
  };
}
