# /etc/profile.d/banger-mise.sh (tools/mkgolden): the tools that mise
# installs (`mise install`, which banger run does for a workspace with a
# .mise.toml, mise.toml or .tool-versions) are on login shells' PATH through
# mise's shims, which pick each tool's version from the current directory's
# config (docs/golden-image.md).
case ":$PATH:" in
*":$HOME/.local/share/mise/shims:"*) ;;
*) PATH="$HOME/.local/share/mise/shims:$PATH" ;;
esac
export PATH
