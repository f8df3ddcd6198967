"""Methods of one component that also reach the copies Gradio builds of it.

After an update of a component's properties (a new label, say), Gradio rebuilds the component for
that session as `type(component)(**its arguments)` and uses the copy from then on. A method set on
the instance would be lost there: an input's limits (`components.guarded`), an output's encoding
(`components.digit_grid`). `override` puts the method on a subclass made for that one component,
with its Gradio class's name, module and widget, so the copies have it too."""


def override(component, name, fn):
    """Make `component.<name>(...)` call `fn(...)`, on the component and on its rebuilt copies."""
    base = type(component)
    if not base.__dict__.get("_one_component", False):
        # The page's widget: Gradio names a template component (a Sketchpad) by its base class.
        widget, block_class = component.get_block_name(), component.get_block_class()
        # type.__new__, not type(): Gradio's component metaclass would write a .pyi stub for it.
        own = type.__new__(type(base), base.__name__, (base,), {
            "__module__": base.__module__, "__qualname__": base.__qualname__, "_one_component": True,
            "get_block_name": lambda self: widget, "get_block_class": lambda self: block_class})
        component.__class__ = own
    setattr(type(component), name, staticmethod(fn))
    return component
