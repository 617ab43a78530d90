# fleet's evaluation of one chunk of nodes (src/nix/eval-run.ts runs several such processes at once).
# spec: JSON list of { name; attr = [ "path" "to" "toplevel" ]; }
# catch: "1": each node under builtins.tryEval, a failed node is { ok = false; } and the others go on;
#        "0": Nix's own error (fleet evaluates a failed node alone again for its message).
# Progress goes to stderr as trace lines (fleet-eval:begin, :root, :start:I, :done:JSON): when Nix dies of
# an error tryEval cannot catch, they say which node it was evaluating and which were done.
{ spec, file ? "", flake ? "", catch ? "1" }:
let
  catching = catch == "1";
  nodes = builtins.fromJSON spec;
  mark = text: builtins.trace "fleet-eval:${text}";
  root =
    if flake != "" then builtins.getFlake flake
    else
      let imported = import file;
      in if builtins.isFunction imported then imported { } else imported;
  # A missing attribute is a throw while catching (tryEval cannot catch Nix's own), Nix's error otherwise.
  get = set: key:
    if catching && !(builtins.isAttrs set && builtins.hasAttr key set) then throw "attribute '${key}' missing"
    else set.${key};
  pick = node:
    let
      toplevel = builtins.foldl' get root node.attr;
      value = { ok = true; drv = toplevel.drvPath; out = toplevel.outPath; system = toplevel.system or null; };
      tried = if catching then builtins.tryEval (builtins.deepSeq value value) else { success = true; value = value; };
    in
    if tried.success then tried.value else { ok = false; };
  step = i: node:
    mark "start:${toString i}" (
      let result = pick node;
      in builtins.deepSeq result (mark "done:${builtins.toJSON ({ inherit i; } // result)}" result));
  results = builtins.genList (i: step i (builtins.elemAt nodes i)) (builtins.length nodes);
  # One node after the other, in spec order: the marks then tell which node an uncatchable error hit.
  inOrder = builtins.foldl' (_: result: builtins.seq result null) null results;
in
mark "begin" (builtins.seq root (mark "root" (builtins.seq inOrder
  (builtins.listToAttrs (builtins.genList (i: { name = (builtins.elemAt nodes i).name; value = builtins.elemAt results i; }) (builtins.length nodes))))))
