import importlib


class Registry:
    """Name -> class, filled by the modules a config lists under `custom_imports`."""

    def __init__(self, name):
        self.name = name
        self._modules = {}

    def register_module(self, cls):
        self._modules[cls.__name__] = cls
        return cls

    def build(self, cfg):
        args = dict(cfg)
        kind = args.pop('type')
        if kind not in self._modules:
            raise KeyError(f'{kind} is not in the {self.name} registry')
        return self._modules[kind](**args)


MODELS = Registry('models')


def import_modules_from_strings(imports):
    return [importlib.import_module(name) for name in imports]
