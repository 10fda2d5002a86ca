package autodiff

func lossRules() []namedRule    { return nil }
func contribRules() []namedRule { return nil }
