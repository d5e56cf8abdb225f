# Developer shell for secrets-store-csi-ts. NOT EVALUATED: it was written on a machine without nix.
#
# No OCI image output yet, on purpose: package-lock.json carries no `resolved` URLs (the npm config it was made
# with sets omit-lockfile-registry-resolved), and nixpkgs' fetchNpmDeps caches only packages that have one, so a
# buildNpmPackage derivation would fail offline with ENOTCACHED. Build the image from the Dockerfile instead; once
# the lockfile has resolved URLs, buildNpmPackage + dockerTools.buildLayeredImage can mirror it.
{
  description = "secrets-store-csi-ts: the Kubernetes Secrets Store CSI Driver in TypeScript on Effect";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_24
            pkgs.buf
            pkgs.kubectl
            pkgs.kustomize
          ];
          # `npm ci` also installs the registry's Linux Node binary as node_modules/.bin/node (an optional
          # dependency), and npm scripts put it first on PATH. It is dynamically linked for a FHS system, so on
          # NixOS it only runs with nix-ld; the shell's nodejs_24 is the same major version.
          shellHook = ''
            echo "node $(node --version), buf $(buf --version), kubectl and kustomize on PATH"
          '';
        };
      });
    };
}
